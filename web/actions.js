// Operator actions, for admins only: each opens a dialog that asks for the reason recorded in
// the saga's history (or the relay's log), and a replay of compensations shows its dry-run plan
// before it can be confirmed.
import { admin, saga } from './api.js';
import { clear, errorBox, h } from './dom.js';

const dialog = () => document.getElementById('dialog');

// Opens a dialog titled `title` with `body` (elements) and a reason field; `onConfirm(reason)`
// runs when confirmed and its error, if any, is shown in the dialog. `preview(reason)` (optional)
// runs first and returns elements to show before the final confirmation.
export function openAction({ title, body = [], confirmLabel, onConfirm, preview, danger = false }) {
  const d = dialog();
  const reason = h('textarea', { name: 'reason', maxlength: 1024, rows: 2,
    placeholder: 'why (recorded in the history)', 'data-testid': 'reason' });
  const result = h('div', { class: 'dialog-result' });
  const confirm = h('button', { type: 'submit', class: danger ? 'danger' : 'primary', 'data-testid': 'confirm' },
    preview ? 'Preview (dry run)' : confirmLabel);
  let previewed = !preview;
  const form = h('form', {
    method: 'dialog', onsubmit: async (e) => {
      e.preventDefault();
      const why = reason.value.trim();
      if (!why) { clear(result, h('p', { class: 'error' }, 'Give a reason: it is recorded in the history.')); return; }
      confirm.disabled = true;
      try {
        if (!previewed) {
          clear(result, await preview(why));
          previewed = true;
          reason.readOnly = true;
          confirm.textContent = confirmLabel;
          confirm.className = 'danger';
        } else {
          await onConfirm(why);
          d.close();
        }
      } catch (err) {
        clear(result, errorBox(err));
      } finally {
        confirm.disabled = false;
      }
    },
  },
  h('h2', {}, title), body, h('label', {}, 'Reason', reason), result,
  h('div', { class: 'dialog-buttons' },
    h('button', { type: 'button', onclick: () => d.close(), 'data-testid': 'cancel' }, 'Cancel'), confirm));
  clear(d, form);
  d.showModal();
  reason.focus();
}

// The action buttons of a saga page; `reload()` redraws the page after an action.
export function sagaActions(s, reload) {
  const buttons = [];
  const steps = (s.steps || []).map((step) => step.name);
  if (s.state === 'SAGA_STATE_QUARANTINED') {
    buttons.push(h('button', { class: 'primary', 'data-action': 'retry', onclick: () => openAction({
      title: 'Retry the saga',
      body: [h('p', {}, 'The failed compensation is tried again and the saga resumes from where it stopped.')],
      confirmLabel: 'Retry',
      onConfirm: async (reason) => { await admin('RetrySaga', { sagaId: s.sagaId, reason }); await reload(); },
    }) }, 'Retry'));
  }
  if (['SAGA_STATE_QUARANTINED', 'SAGA_STATE_COMPENSATED', 'SAGA_STATE_COMPENSATING'].includes(s.state)) {
    const from = h('select', { name: 'from', 'data-testid': 'from-step' },
      h('option', { value: '' }, 'the last step that ran'), steps.map((n) => h('option', { value: n }, n)));
    buttons.push(h('button', { 'data-action': 'replay', onclick: () => openAction({
      title: 'Replay compensations',
      body: [h('p', {}, 'Runs the compensations again, in reverse dependency order, from:'), from],
      confirmLabel: 'Replay now',
      preview: async (reason) => {
        const plan = await admin('ReplayCompensation',
          { sagaId: s.sagaId, fromStep: from.value, dryRun: true, reason });
        from.disabled = true;
        const rows = plan.plan || [];
        return h('div', { 'data-testid': 'dry-run' }, h('p', {}, `Dry run: ${rows.length} compensation(s) would run, in this order:`),
          h('ol', {}, rows.map((p) => h('li', { class: 'mono' }, p.step))));
      },
      onConfirm: async (reason) => {
        await admin('ReplayCompensation', { sagaId: s.sagaId, fromStep: from.value, reason });
        await reload();
      },
    }) }, 'Replay compensation'));
  }
  if (!['SAGA_STATE_COMPLETED', 'SAGA_STATE_COMPENSATED'].includes(s.state)) {
    const stuck = (s.steps || []).filter((st) => !['STEP_STATE_SUCCEEDED', 'STEP_STATE_COMPENSATED',
      'STEP_STATE_SKIPPED', 'STEP_STATE_NOT_RUN', 'STEP_STATE_CONFIRMED'].includes(st.state));
    if (stuck.length) {
      const which = h('select', { name: 'step', 'data-testid': 'skip-step' },
        stuck.map((st) => h('option', { value: st.name }, st.name)));
      buttons.push(h('button', { 'data-action': 'skip', onclick: () => openAction({
        title: 'Skip a step',
        body: [h('p', {}, 'Marks the step done without running it, so that the saga can go on. Step:'), which],
        confirmLabel: 'Skip', danger: true,
        onConfirm: async (reason) => { await admin('SkipStep', { sagaId: s.sagaId, step: which.value, reason }); await reload(); },
      }) }, 'Skip step'));
    }
  }
  if (s.state === 'SAGA_STATE_RUNNING') {
    buttons.push(h('button', { class: 'danger', 'data-action': 'abort', onclick: () => openAction({
      title: 'Abort the saga',
      body: [h('p', {}, 'Compensates every step that ran, as if a step had failed.')],
      confirmLabel: 'Abort', danger: true,
      onConfirm: async (reason) => { await saga('AbortSaga', { sagaId: s.sagaId, reason }); await reload(); },
    }) }, 'Abort'));
  }
  return buttons.length ? h('div', { class: 'actions', 'data-testid': 'actions' }, buttons) : null;
}
