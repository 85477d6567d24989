/* <vafa-loyalty>: the member's balance, tier progress and expiring points on a chain's web shop.

   <script src="https://portal.example/static/vafa-loyalty.js" defer></script>
   <vafa-loyalty lang="fa"></vafa-loyalty>
   document.querySelector("vafa-loyalty").token = memberToken;   // or the token="..." attribute

   The token is the member's own (ingest's POST /v1/tokens/member, after the one-time code), which the
   shop's server got when the member signed in there. It is kept in memory only and sent as a Bearer
   header to the portal's JSON API, which answers only the shops named in VAFA_PORTAL_WIDGET_ORIGINS
   (CORS). Everything is drawn in a shadow root with the DOM's text nodes: nothing from the API is ever
   parsed as HTML, and the shop's styles do not leak in. */
(() => {
  "use strict";
  const PORTAL = new URL(document.currentScript ? document.currentScript.src : location.href).origin;
  const CSS = `
    :host { display: block; font-family: inherit; color: #1a2230; max-width: 360px; }
    .card { border: 1px solid #e2e7ee; border-radius: 14px; padding: 14px 16px; background: #fff; }
    .title { margin: 0; font-size: .95rem; color: #4f5b6b; font-weight: 600; }
    .balance { margin: 2px 0 10px; font-size: 2rem; font-weight: 800; color: #084c3f; }
    .unit { font-size: 1rem; font-weight: 600; margin-inline-start: 6px; }
    .tier { margin: 0 0 4px; font-weight: 700; text-transform: capitalize; }
    progress { width: 100%; height: 10px; accent-color: #0b6b58; }
    .soon { margin-top: 12px; }
    ul { list-style: none; padding: 0; margin: 4px 0 0; }
    li { padding: 2px 0; }
    .muted { color: #4f5b6b; font-size: .9rem; margin: 4px 0; }
    .error { color: #b01f29; }`;

  const fill = (template, values) => template.replace(/\{(\w+)\}/g, (_, key) => values[key] ?? "");

  class VafaLoyalty extends HTMLElement {
    static get observedAttributes() { return ["token", "lang"]; }

    constructor() {
      super();
      this.attachShadow({ mode: "open" });
      this._token = null;
    }

    get token() { return this._token || this.getAttribute("token"); }
    set token(value) { this._token = value; this.schedule(); }

    connectedCallback() { this.schedule(); }
    attributeChangedCallback() { if (this.isConnected) this.schedule(); }

    // Attributes and connection arrive together when the element is upgraded: one load for them all.
    schedule() {
      if (this._pending) return;
      this._pending = true;
      queueMicrotask(() => { this._pending = false; this.load(); });
    }

    get api() { return (this.getAttribute("api") || PORTAL).replace(/\/$/, ""); }
    get lang() { return this.getAttribute("lang") === "en" ? "en" : "fa"; }

    async load() {
      const token = this.token;
      if (!token) return;
      const lang = this.lang;
      try {
        const [said, me] = await Promise.all([
          fetch(`${this.api}/api/v1/words?lang=${lang}`).then((r) => r.json()),
          fetch(`${this.api}/api/v1/me?lang=${lang}`, { headers: { Authorization: `Bearer ${token}` } })
            .then((r) => { if (!r.ok) throw new Error(`HTTP ${r.status}`); return r.json(); }),
        ]);
        this.draw(said, me);
      } catch (error) {
        this.fail(error);
      }
    }

    draw(said, me) {
      const w = said.words;
      const locale = said.locale === "fa" ? "fa-IR" : "en-GB";
      const number = new Intl.NumberFormat(locale);
      // Persian: the Jalali calendar, as the portal writes dates (1405/08/29).
      const day = new Intl.DateTimeFormat(said.locale === "fa" ? "fa-IR-u-ca-persian-nu-arabext" : "en-GB",
        said.locale === "fa" ? { year: "numeric", month: "2-digit", day: "2-digit", timeZone: "UTC" }
          : { year: "numeric", month: "short", day: "2-digit", timeZone: "UTC" });
      const root = this.shadowRoot;
      root.replaceChildren();
      root.append(this.style_());
      const card = el("section", { class: "card", dir: said.dir, lang: said.locale, "aria-label": w.portal });
      card.append(el("p", { class: "title" }, w.balance));
      const balance = el("p", { class: "balance", part: "balance" });
      balance.append(el("span", { class: "value" }, number.format(me.balance ?? 0)),
        el("span", { class: "unit" }, w.points));
      card.append(balance);

      if (me.tier) {
        card.append(el("p", { class: "tier" }, me.tier.tier));
        if (me.tier.next) {
          const label = fill(w.progress, { tier: me.tier.next.tier });
          card.append(el("progress", { max: "100", value: String(me.tier.progress_percent ?? 0),
            "aria-label": label }));
          card.append(el("p", { class: "muted" }, label));
        } else {
          card.append(el("p", { class: "muted" }, w.top_tier));
        }
      } else {
        card.append(el("p", { class: "muted" }, w.no_tier_yet));
      }

      card.append(el("p", { class: "title soon" }, w.expiring_title));
      if (me.expiring.length) {
        const list = el("ul", { class: "expiring" });
        for (const soon of me.expiring) {
          const when = day.format(new Date(`${soon.on}T00:00:00Z`));
          list.append(el("li", {}, fill(w.expiring_line, { points: number.format(soon.points), when })));
        }
        card.append(list);
      } else {
        card.append(el("p", { class: "muted" }, w.expiring_none));
      }
      root.append(card);
      this.dispatchEvent(new CustomEvent("vafa-loaded", { detail: { balance: me.balance } }));
    }

    fail(error) {
      const root = this.shadowRoot;
      root.replaceChildren(this.style_(), el("p", { class: "error", role: "alert" }, "Vafa: " + error.message));
      this.dispatchEvent(new CustomEvent("vafa-failed", { detail: { error: String(error) } }));
    }

    style_() {
      // A constructed sheet where the browser has them: no <style> element for the shop's CSP to refuse.
      if ("adoptedStyleSheets" in Document.prototype && !this.shadowRoot.adoptedStyleSheets.length) {
        const sheet = new CSSStyleSheet();
        sheet.replaceSync(CSS);
        this.shadowRoot.adoptedStyleSheets = [sheet];
      }
      if (this.shadowRoot.adoptedStyleSheets.length) return document.createTextNode("");
      const style = document.createElement("style");
      style.textContent = CSS;
      return style;
    }
  }

  function el(tag, attributes, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  if (!customElements.get("vafa-loyalty")) customElements.define("vafa-loyalty", VafaLoyalty);
})();
