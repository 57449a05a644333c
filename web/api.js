// The console's only way to sagad: POST /api/<service>/<method> with the request message in the
// protobuf JSON mapping (services/http_api.h). The bearer token, when authentication is on, is
// kept for the browser tab only (sessionStorage).

const TOKEN_KEY = 'sagad.token';

export class ApiError extends Error {
  constructor(code, message, httpStatus) {
    super(message);
    this.code = code;
    this.httpStatus = httpStatus;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// Calls `method` ("saga.v1.SagaService/ListSagas") with `request`; resolves to the response
// message, rejects with an ApiError carrying the gRPC code name and sagad's message.
export async function call(method, request = {}) {
  const headers = { 'Content-Type': 'application/json' };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  let response;
  try {
    response = await fetch(`/api/${method}`, {
      method: 'POST', headers, body: JSON.stringify(request), cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError('UNAVAILABLE', `sagad does not answer (${e.message})`, 0);
  }
  let body;
  try {
    body = await response.json();
  } catch (e) {
    throw new ApiError('INTERNAL', `sagad answered ${response.status} without JSON`, response.status);
  }
  if (!response.ok) throw new ApiError(body.code || 'UNKNOWN', body.message || '', response.status);
  return body;
}

export const saga = (method, request) => call(`saga.v1.SagaService/${method}`, request);
export const admin = (method, request) => call(`saga.v1.AdminService/${method}`, request);
