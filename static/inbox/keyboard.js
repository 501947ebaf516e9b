// The inbox's keyboard shortcuts (the help overlay lists them: Ctrl/Cmd+/).

const STATUS_KEYS = { 1: "active", 2: "pending", 3: "resolved", 4: "archived" };

function typingInField(target) {
  return target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

export function setupKeyboard(actions) {
  document.addEventListener("keydown", (event) => {
    const mod = event.ctrlKey || event.metaKey;
    if (mod && event.key.toLowerCase() === "k") {
      event.preventDefault();
      actions.search();
      return;
    }
    if (mod && event.key === "/") {
      event.preventDefault();
      actions.help();
      return;
    }
    if (mod && (event.key === "[" || event.key === "]")) {
      event.preventDefault();
      actions.adjacent(event.key === "]" ? 1 : -1);
      return;
    }
    if (mod && STATUS_KEYS[event.key]) {
      event.preventDefault();
      actions.status(STATUS_KEYS[event.key]);
      return;
    }
    if (event.key === "Escape") {
      if (document.querySelector("dialog[open]")) return; // the dialog closes itself
      if (typingInField(event.target)) {
        event.target.blur();
        return;
      }
      actions.escape();
      return;
    }
    if (mod || event.altKey || typingInField(event.target)) return;
    switch (event.key) {
      case "ArrowDown": event.preventDefault(); actions.move(1); break;
      case "ArrowUp": event.preventDefault(); actions.move(-1); break;
      case "Enter": if (event.target === document.body) { event.preventDefault(); actions.openCursor(); } break;
      case "r": case "R": event.preventDefault(); actions.reply(); break;
      case "n": case "N": event.preventDefault(); actions.note(); break;
      case "a": case "A": event.preventDefault(); actions.assign(); break;
      case "d": case "D": event.preventDefault(); actions.download(); break;
      default: break;
    }
  });
}
