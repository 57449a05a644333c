// Parked messages: outbox rows the relay gave up on (AdminService.ListParked); admins select
// some and requeue them (RequeueParked) with a reason.
import { admin } from './api.js';
import { clear, decodeBytes, formatTime, h, number, routeParams } from './dom.js';
import { openAction } from './actions.js';

export async function renderParked(main, session) {
  const params = routeParams();
  const page = await admin('ListParked', { pageSize: 100, topic: params.get('topic') || '',
    pageToken: params.get('page') || '' });
  const messages = page.messages || [];
  const boxes = [];
  const reload = () => renderParked(main, session);
  const requeue = session.isAdmin && messages.length ? h('button', {
    class: 'primary', 'data-action': 'requeue', onclick: () => {
      const ids = boxes.filter((b) => b.checked).map((b) => b.value);
      if (ids.length === 0) return;
      openAction({
        title: `Requeue ${ids.length} message(s)`,
        body: [h('p', {}, 'They go back in line for delivery, ahead of the later messages of their keys.')],
        confirmLabel: 'Requeue',
        onConfirm: async (reason) => { await admin('RequeueParked', { messageIds: ids, reason }); await reload(); },
      });
    },
  }, 'Requeue selected') : null;
  clear(main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Parked messages'), requeue),
    messages.length === 0 ? h('p', { class: 'muted', 'data-testid': 'no-parked' }, 'No parked message.')
      : h('table', { class: 'grid', 'data-testid': 'parked' },
        h('thead', {}, h('tr', {}, [session.isAdmin ? '' : null, 'message id', 'topic', 'key', 'size',
          'attempts', 'parked', 'last error'].filter((t) => t !== null).map((t) => h('th', {}, t)))),
        h('tbody', {}, messages.map((m) => {
          const box = session.isAdmin ? h('input', { type: 'checkbox', value: m.messageId, 'aria-label': `select ${m.messageId}` }) : null;
          if (box) boxes.push(box);
          return h('tr', {}, box ? h('td', {}, box) : null,
            h('td', { class: 'mono' }, m.messageId), h('td', {}, m.topic),
            h('td', { class: 'mono' }, decodeBytes(m.key).text), h('td', { class: 'num' }, `${number(m.payloadSize)} B`),
            h('td', { class: 'num' }, m.attempts), h('td', {}, formatTime(m.parkTime)),
            h('td', { class: 'err' }, m.lastError));
        }))),
    page.nextPageToken ? h('a', { class: 'button', href: `#/parked?page=${encodeURIComponent(page.nextPageToken)}` }, 'Next →') : null);
}
