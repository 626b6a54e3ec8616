// The conversation view: one list item per transcript line, tool call and notice.
//
// Transcript deltas append to the open line of their role until the line is final, the other role speaks,
// or the turn completes. Each line takes its direction from its own text (textDirection: an Arabic line is
// right to left even when it starts with a Latin name).

import { setText } from "./i18n.js";

const NEAR_BOTTOM_PX = 48;

export class TranscriptView {
  /** `list`: the #transcript element; `scroller`: the element that scrolls; `t`: the translator. */
  constructor(list, scroller, t) {
    this.list = list;
    this.scroller = scroller;
    this.t = t;
    this.open = { user: null, model: null };
    this.lastUser = null;
    this.expectUser = false; // the turn in progress is spoken (see spoken())
    this.userHeard = false;
    this.placeholder = null;
  }

  /**
   * The user is speaking a turn: if Gemini answers it without a transcript of what was said (the emulator
   * cannot transcribe), a "You" line still shows that the speech was heard.
   */
  spoken() {
    this.expectUser = true;
    this.userHeard = false;
    this.placeholder = null;
  }

  /** A piece of `role`'s transcript ("user" or "model"); `final` closes the line. */
  add(role, text, final = false) {
    if (role !== "user" && role !== "model") return;
    const piece = typeof text === "string" ? text : "";
    if (role === "model" && piece.trim() !== "" && this.expectUser && !this.userHeard) {
      this.userHeard = true;
      this.placeholder = this.untranscribedLine();
    }
    if (role === "user" && piece.trim() !== "") {
      this.userHeard = true;
      if (this.placeholder && !this.open.user) {
        this.placeholder.classList.remove("untranscribed");
        this.placeholder.textContent = "";
        this.open.user = this.placeholder; // the transcript came late: it takes the placeholder's place
      }
      this.placeholder = null;
    }
    this.open[role === "user" ? "model" : "user"] = null;
    let line = this.open[role];
    if (!line && piece.trim() !== "") {
      line = this.line(role, role === "user" ? this.t("you") : this.t("gemini"));
      this.open[role] = line;
    }
    if (line && piece) {
      this.stickToBottom(() => {
        setText(line, (line.textContent + piece).replace(/^\s+/, ""));
      });
    }
    if (role === "user" && line) this.lastUser = line;
    if (final) this.open[role] = null;
  }

  untranscribedLine() {
    const line = this.line("user untranscribed", this.t("you"));
    setText(line, this.t("untranscribed"));
    this.lastUser = line;
    return line;
  }

  /** The user's turn was not addressed to the assistant by its name: mark its line, and say so. */
  notAddressed(note) {
    if (this.expectUser && !this.userHeard) this.untranscribedLine();
    this.lastUser?.classList.add("ignored");
    this.closeAll();
    this.notice(note, "note");
  }

  /** The turn is over: the next delta starts new lines. */
  closeAll() {
    this.open.user = null;
    this.open.model = null;
    this.expectUser = false;
    this.placeholder = null;
  }

  /** The connection moved mid-answer: the model answers again, so the cut answer's line goes. */
  answerCut() {
    this.open.model?.remove();
    this.open.model = null;
  }

  /** The user's speech was sent again on a new connection: its transcript comes again, so its line goes. */
  utteranceReplayed() {
    this.lastUser?.remove();
    this.lastUser = null;
    this.open.user = null;
    this.userHeard = false;
  }

  /** The user talked over the reply: the model's line ends here. */
  interrupted() {
    const line = this.open.model;
    if (line) {
      line.classList.add("interrupted");
      line.title = this.t("interrupted");
    }
    this.open.model = null;
  }

  /** A tool call's progress: "started" adds a line, "finished" / "failed" update the latest one for `name`. */
  tool(name, status) {
    const label = String(name ?? "?");
    let line = null;
    if (status !== "started") {
      line = [...this.list.querySelectorAll(".line.tool.running")].reverse().find((l) => l.dataset.name === label);
    }
    if (!line) {
      line = this.line("tool", null);
      line.dataset.name = label;
    }
    line.classList.toggle("running", status === "started");
    line.classList.toggle("failed", status === "failed");
    const key = status === "failed" ? "toolFailed" : status === "started" ? "toolStarted" : "toolFinished";
    this.stickToBottom(() => {
      setText(line, this.t(key, { name: label }));
    });
  }

  /** Something the user should know ("notice"), or a quieter remark about the conversation ("note"). */
  notice(text, kind = "notice") {
    const line = this.line(kind, null);
    this.stickToBottom(() => {
      setText(line, text);
    });
  }

  /** Empty the view. */
  clear() {
    this.list.replaceChildren();
    this.lastUser = null;
    this.closeAll();
  }

  line(kind, label) {
    const item = document.createElement("li");
    item.className = `line ${kind}`;
    item.setAttribute("dir", "auto");
    if (label) item.dataset.label = label;
    this.stickToBottom(() => this.list.append(item));
    return item;
  }

  stickToBottom(change) {
    const s = this.scroller;
    const atBottom = s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
    change();
    if (atBottom) s.scrollTop = s.scrollHeight;
  }
}
