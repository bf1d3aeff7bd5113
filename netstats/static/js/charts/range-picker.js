// The range picker of a page with charts: 1 h, 6 h, 24 h, 7 d, 30 d, 1 y, or a custom range.
//
//   import { setupRangePicker } from "./charts/range-picker.js";
//   setupRangePicker(element, (range) => { ... range.from, range.to (epoch ms), range.follow });
//
// element: a container with buttons [data-range="3600"] (seconds back from now) and a form
// [data-range-custom] with two datetime-local inputs (name="from", name="to"). The handler is
// called once at once with the pressed button's range (aria-pressed="true"; else the first),
// then on every choice. A preset range follows now (live updates slide it); a custom range
// stays put. The choice is kept in the page's address (#range=86400 or #from=...&to=...), so a
// reload or a shared link shows the same range.

function fromHash() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  if (params.has("range")) return { seconds: Number(params.get("range")) };
  if (params.has("from") && params.has("to")) {
    const from = Date.parse(params.get("from"));
    const to = Date.parse(params.get("to"));
    if (from < to) return { from, to };
  }
  return null;
}

function toLocalInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

export function setupRangePicker(element, onRange) {
  const buttons = [...element.querySelectorAll("[data-range]")];
  const custom = element.querySelector("[data-range-custom]");
  const press = (pressed) => {
    for (const b of buttons) b.setAttribute("aria-pressed", String(b === pressed));
  };
  const preset = (b) => {
    press(b);
    const seconds = Number(b.dataset.range);
    const to = Date.now();
    history.replaceState(null, "", `#range=${seconds}`);
    onRange({ from: to - seconds * 1000, to, follow: true });
  };
  for (const b of buttons) b.addEventListener("click", () => preset(b));
  custom?.addEventListener("submit", (event) => {
    event.preventDefault();
    const from = Date.parse(custom.elements.from.value);
    const to = Date.parse(custom.elements.to.value);
    const error = custom.querySelector("[data-range-error]");
    if (!(from < to)) {
      error.textContent = "The start must be before the end.";
      error.classList.remove("d-none");
      return;
    }
    error.classList.add("d-none");
    press(null);
    history.replaceState(null, "", `#from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`);
    onRange({ from, to, follow: false });
  });
  const start = fromHash();
  if (start?.from !== undefined) {
    press(null);
    if (custom) {
      custom.elements.from.value = toLocalInput(start.from);
      custom.elements.to.value = toLocalInput(start.to);
    }
    onRange({ from: start.from, to: start.to, follow: false });
    return;
  }
  const chosen =
    buttons.find((b) => start && Number(b.dataset.range) === start.seconds) ??
    buttons.find((b) => b.getAttribute("aria-pressed") === "true") ??
    buttons[0];
  if (custom) {
    const now = Date.now();
    custom.elements.from.value = toLocalInput(now - Number(chosen.dataset.range) * 1000);
    custom.elements.to.value = toLocalInput(now);
  }
  preset(chosen);
}
