// The public GraphQL API, as the signed-in person: POST /graphql with the login token.
// The token lives in sessionStorage (gone when the tab closes; never in a cookie, so no CSRF).

const TOKEN_KEY = "gitstore.admin.token";
const USER_KEY = "gitstore.admin.user";

export class ApiError extends Error {
  constructor(message, { code = "", status = 0 } = {}) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  get username() {
    return sessionStorage.getItem(USER_KEY);
  },
  start(token, username) {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(USER_KEY, username);
  },
  end() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(USER_KEY);
  },
};

let onUnauthenticated = () => {};
export function whenSignedOut(callback) {
  onUnauthenticated = callback;
}

/** Run one operation; return `data`. GraphQL errors become an ApiError (first message). */
export async function gql(query, variables = {}, endpoint = "../graphql") {
  const headers = { "content-type": "application/json", accept: "application/graphql-response+json" };
  if (session.token) headers.authorization = `Bearer ${session.token}`;
  let response;
  try {
    response = await fetch(endpoint, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  } catch (error) {
    throw new ApiError(`the API cannot be reached (${error.message})`, { code: "UNAVAILABLE" });
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`the API answered HTTP ${response.status} without a GraphQL body`, { status: response.status });
  }
  if (response.status === 401) {
    session.end();
    onUnauthenticated();
    const message = body?.errors?.[0]?.message || "sign in again";
    throw new ApiError(`Your session ended: ${message}`, { code: "UNAUTHENTICATED", status: 401 });
  }
  if (body?.errors?.length) {
    const first = body.errors[0];
    throw new ApiError(first.message, { code: first.extensions?.code || "", status: response.status });
  }
  return body.data;
}

/** The store endpoint of a repository (`/<namespace>/<repo>/graphql`: custom kinds typed). */
export function storeEndpoint(repository) {
  return `../${repository.split("/").map(encodeURIComponent).join("/")}/graphql`;
}

/** Run a one-field mutation and return its payload (userErrors left for the caller). */
export async function mutate(query, input, endpoint = undefined) {
  const data = await gql(query, { input }, endpoint);
  return Object.values(data)[0];
}

/** A fresh idempotency key for one user action (a retry of the same click reuses it). */
export function idempotencyKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return `admin-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
