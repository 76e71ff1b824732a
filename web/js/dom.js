//! Small DOM helpers. Everything the server sends ends up in the page through `textContent` or
//! attributes set here, never through HTML parsing, so stored names like `<script>` stay text.

import { t } from './i18n.js';
import { ApiError, detailMessages, errorMessage } from './api.js';

/**
 * @typedef {object} Props
 * @property {string} [className]
 * @property {string} [text] text content (never parsed as HTML)
 * @property {string} [i18n] catalogue key: sets `data-i18n` and the text
 * @property {string} [i18nAriaLabel] catalogue key for `aria-label`
 * @property {Record<string, string>} [attrs] attributes
 * @property {Record<string, string>} [dataset]
 * @property {Record<string, EventListener>} [on] event listeners
 */

/**
 * Create an element. Keys other than those of `Props` are assigned as properties
 * (`type`, `name`, `value`, `required`, `hidden`, `href`, `disabled`…).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props & Record<string, any>} [props]
 * @param {...(Node | string | null | undefined | false)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined) continue;
    switch (key) {
      case 'className':
        el.className = value;
        break;
      case 'text':
        el.textContent = value;
        break;
      case 'i18n':
        el.setAttribute('data-i18n', value);
        el.textContent = t(value);
        break;
      case 'i18nAriaLabel':
        el.setAttribute('data-i18n-aria-label', value);
        el.setAttribute('aria-label', t(value));
        break;
      case 'attrs':
        for (const [name, v] of Object.entries(value)) el.setAttribute(name, v);
        break;
      case 'dataset':
        for (const [name, v] of Object.entries(value)) el.dataset[name] = v;
        break;
      case 'on':
        for (const [type, fn] of Object.entries(value)) el.addEventListener(type, fn);
        break;
      default:
        /** @type {any} */ (el)[key] = value;
    }
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child);
  }
  return el;
}

/**
 * Find an element by id or fail loudly (a missing id is a bug in the page).
 * @template {HTMLElement} T
 * @param {string} id
 * @returns {T}
 */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing element #${id}`);
  return /** @type {T} */ (el);
}

/**
 * Show an error (a text, or a text and a list of reasons) in an alert element; hide it when empty.
 * @param {HTMLElement} box element with role="alert"
 * @param {string | null} message
 * @param {string[]} [items]
 */
export function showError(box, message, items = []) {
  box.replaceChildren();
  if (!message) {
    box.hidden = true;
    return;
  }
  box.append(h('span', { text: message }));
  if (items.length) {
    box.append(h('ul', {}, ...items.map((item) => h('li', { text: item }))));
  }
  box.hidden = false;
}

/**
 * Show a short status text (role="status" element); empty hides it.
 * @param {HTMLElement} box
 * @param {string | null} message
 */
export function showStatus(box, message) {
  box.textContent = message || '';
  box.hidden = !message;
}

/**
 * @typedef {object} Field
 * @property {string} name
 * @property {string} label catalogue key
 * @property {string} [type] input type, or 'select'
 * @property {string} [value]
 * @property {boolean} [required]
 * @property {string} [autocomplete]
 * @property {number} [minLength]
 * @property {number} [maxLength]
 * @property {Array<{value: string, label: string}>} [options] for selects (labels already translated)
 */

let dialogCounter = 0;

/**
 * A modal form in a `<dialog>`. `onSubmit` runs with the values; if it throws, the error is shown
 * in the dialog and it stays open. Resolves true after a successful submit, false on cancel.
 * @param {object} spec
 * @param {string} spec.title already translated
 * @param {string} [spec.message] already translated explanation
 * @param {Field[]} [spec.fields]
 * @param {string} spec.submitLabel already translated
 * @param {boolean} [spec.danger] style the submit button as destructive
 * @param {(values: Record<string, string>) => Promise<void>} spec.onSubmit
 * @returns {Promise<boolean>}
 */
export function formDialog(spec) {
  const id = `dialog-${++dialogCounter}`;
  const titleId = `${id}-title`;
  const errorBox = h('p', { className: 'error', hidden: true, attrs: { role: 'alert' } });
  /** @type {Array<HTMLInputElement | HTMLSelectElement>} */
  const inputs = [];
  const form = h('form', { className: 'stack', attrs: { method: 'dialog' } });
  form.append(h('h2', { id: titleId, text: spec.title }));
  if (spec.message) form.append(h('p', { text: spec.message }));
  for (const field of spec.fields || []) {
    const inputId = `${id}-${field.name}`;
    /** @type {HTMLInputElement | HTMLSelectElement} */
    let input;
    if (field.type === 'select') {
      input = h('select', { id: inputId, name: field.name });
      for (const option of field.options || []) {
        input.append(h('option', { value: option.value, text: option.label }));
      }
      if (field.value !== undefined) input.value = field.value;
    } else {
      input = h('input', {
        id: inputId,
        name: field.name,
        type: field.type || 'text',
        value: field.value || '',
        required: !!field.required,
        autocomplete: field.autocomplete || 'off',
      });
      if (field.minLength) input.minLength = field.minLength;
      if (field.maxLength) input.maxLength = field.maxLength;
    }
    inputs.push(input);
    form.append(h('div', { className: 'field' }, h('label', { htmlFor: inputId, text: t(field.label) }), input));
  }
  form.append(errorBox);
  const submit = h('button', {
    type: 'submit',
    className: spec.danger ? 'danger' : 'primary',
    text: spec.submitLabel,
  });
  const cancel = h('button', { type: 'button', text: t('common.cancel') });
  form.append(h('div', { className: 'buttons' }, submit, cancel));
  const dialog = h('dialog', { attrs: { 'aria-labelledby': titleId } }, form);
  document.body.append(dialog);

  return new Promise((resolve) => {
    let done = false;
    /** @param {boolean} ok */
    const finish = (ok) => {
      if (done) return;
      done = true;
      dialog.close();
      dialog.remove();
      resolve(ok);
    };
    cancel.addEventListener('click', () => finish(false));
    dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      finish(false);
    });
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (!form.reportValidity()) return;
      /** @type {Record<string, string>} */
      const values = {};
      for (const input of inputs) values[input.name] = input.value;
      submit.disabled = true;
      showError(errorBox, null);
      try {
        await spec.onSubmit(values);
        finish(true);
      } catch (error) {
        showError(
          errorBox,
          errorMessage(error),
          error instanceof ApiError ? detailMessages(error) : [],
        );
        submit.disabled = false;
      }
    });
    dialog.showModal();
    const first = inputs[0] || submit;
    first.focus();
  });
}

/**
 * Ask for confirmation in a modal dialog (never `window.confirm`, which blocks and which tests
 * treat as an unexpected dialog). Resolves true after `onConfirm` succeeded.
 * @param {string} message already translated
 * @param {string} confirmLabel already translated
 * @param {() => Promise<void>} onConfirm
 */
export function confirmDialog(message, confirmLabel, onConfirm) {
  return formDialog({
    title: t('common.confirm'),
    message,
    submitLabel: confirmLabel,
    danger: true,
    onSubmit: onConfirm,
  });
}

/**
 * Base64 of the UTF-8 bytes of a string (for `data:` URLs; `btoa` alone takes only Latin-1).
 * @param {string} text
 */
export function base64Utf8(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(binary);
}
