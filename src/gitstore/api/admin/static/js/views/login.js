// Sign in: the `login` mutation (same users, passwords and limits as GraphQL).
import { gql, session } from "../api.js";
import { h, notice, announce, uid } from "../dom.js";

const LOGIN = `mutation($input: LoginInput!) {
  login(input: $input) { token user { username isAdmin } userErrors { field message code } }
}`;

export async function loginView(ctx) {
  const userId = uid("login");
  const passId = uid("login");
  const errors = h("div", { "aria-live": "assertive" });
  const username = h("input", { id: userId, name: "username", autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false" });
  const password = h("input", { id: passId, name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { class: "card narrow", novalidate: true },
    h("div", { class: "field" }, h("label", { for: userId }, "Username"), username),
    h("div", { class: "field" }, h("label", { for: passId }, "Password"), password),
    errors,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.replaceChildren();
    if (!username.value || !password.value) {
      errors.append(notice("error", "Enter your username and password."));
      (username.value ? password : username).focus();
      return;
    }
    submit.disabled = true;
    try {
      const data = await gql(LOGIN, { input: { username: username.value.trim(), password: password.value } });
      const payload = data.login;
      if (payload.userErrors.length) {
        errors.append(notice("error", payload.userErrors.map((e) => e.message).join(" ")));
        password.value = "";
        password.focus();
        return;
      }
      session.start(payload.token, payload.user.username);
      announce(`Signed in as ${payload.user.username}.`);
      ctx.navigate("#/");
    } catch (error) {
      errors.append(notice("error", error.message));
    } finally {
      submit.disabled = false;
    }
  });
  if (session.token) session.end();
  return [h("h1", {}, "Sign in"), form];
}
