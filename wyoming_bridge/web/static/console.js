// The web voice console (docs/web-console.md): the page's controls, the bridge connection, and the two
// transports: "bridge" (microphone and reply audio through the bridge's /ws) and "direct" (the browser
// talks to Gemini Live itself with an ephemeral token; the bridge runs the tools).

import { Microphone, Player, audioSupported } from "./audio-io.js";
import { BridgeLink } from "./bridge.js";
import { DirectSession } from "./direct.js";
import { isRightToLeft, pageLanguage, setText, translatePage, translator } from "./i18n.js";
import { TranscriptView } from "./transcript.js";

const MODES = ["push_to_talk", "auto"];
const TOKEN_TIMEOUT_MS = 15000;
const MODE_KEY = "gemini-live-console-mode";
// The state shown while reply audio is still being heard, whatever the bridge says the turn is doing.
const HEARD_OVER = new Set(["idle", "listening", "thinking"]);

// ------------------------------------------------------------------------------------ page and hooks

const language = pageLanguage();
document.documentElement.lang = language;
document.documentElement.dir = isRightToLeft(language) ? "rtl" : "ltr";
const t = translator(language);
translatePage(document, t);

const $ = (id) => document.getElementById(id);
const ui = {
  connection: $("connection"),
  state: $("state"),
  talk: $("talk"),
  talkLabel: $("talk-label"),
  talkHint: $("talk-hint"),
  mode: $("mode"),
  clear: $("clear"),
  transcript: $("transcript"),
  conversation: $("conversation"),
  notice: $("notice"),
  noticeText: $("notice-text"),
  error: $("error"),
  errorText: $("error-text"),
  passwordForm: $("password-form"),
  password: $("password"),
  textForm: $("text-form"),
  text: $("text"),
};

/** What the browser tests read. */
const debug = {
  connection: "connecting",
  state: "idle",
  transport: null,
  captureRate: 48000,
  samplesSent: 0,
  samplesReceived: 0,
  samplesPlayed: 0,
  peakPlayed: 0,
  turns: 0,
  audioBusy: false,
  states: [], // every state shown: {state, received, played} (samples at 24 kHz when it was shown)
};
window.consoleDebug = debug;

const transcript = new TranscriptView(ui.transcript, ui.conversation, t);

// ----------------------------------------------------------------------------------------- state

const query = new URLSearchParams(location.search);
const hashQuery = new URLSearchParams(location.hash.slice(1));
// ?mode= wins; else the mode chosen last time, so that the bridge sets the session up for it from the start.
let mode = [query.get("mode"), storedMode()].find((m) => MODES.includes(m)) ?? "push_to_talk";
ui.mode.value = mode;
const touchFirst = matchMedia("(pointer: coarse)").matches || !matchMedia("(hover: hover)").matches;
let wakePhrase = null; // the spoken name the bridge waits for, if any
let turnState = "idle"; // what the bridge (or the direct session) says the turn is doing
let transport = null; // "bridge" | "direct" once ready
let pressed = false; // push to talk: the button or the space bar is held
let pressSource = null; // "pointer" | "key"
let activePointer = null;
let listening = false; // automatic mode: the microphone streams
let pendingToken = null;
let micLevel = 0;

function setConnection(connection) {
  debug.connection = connection;
  ui.connection.dataset.state = connection;
  ui.connection.textContent = t(connection);
  updateTalk();
}

function storedMode() {
  try {
    return localStorage.getItem(MODE_KEY);
  } catch {
    return null; // storage refused (private mode, policy)
  }
}

function storeMode(chosen) {
  try {
    localStorage.setItem(MODE_KEY, chosen);
  } catch {
    // not remembered: the next visit starts in push to talk
  }
}

function setState(state) {
  if (typeof state !== "string") return;
  turnState = state;
  showState();
}

/** The state shown follows what the user hears: "speaking" while reply audio is still playing. */
function showState() {
  const shown = player.busy && HEARD_OVER.has(turnState) ? "speaking" : turnState;
  debug.audioBusy = player.busy;
  if (shown === debug.state && debug.states.length > 0) return;
  debug.state = shown;
  debug.states.push({ state: shown, received: debug.samplesReceived, played: debug.samplesPlayed });
  ui.state.dataset.state = shown;
  ui.state.textContent = t(shown);
}

function showBanner(banner, textElement, text) {
  setText(textElement, text);
  banner.hidden = false;
}

function showError(text) {
  showBanner(ui.error, ui.errorText, text);
}

function hideError() {
  ui.error.hidden = true;
  ui.errorText.textContent = "";
}

for (const button of document.querySelectorAll("[data-dismiss]")) {
  button.addEventListener("click", () => {
    $(button.dataset.dismiss).hidden = true;
  });
}

function updateTalk() {
  const auto = mode === "auto";
  const on = auto ? listening : pressed;
  ui.talk.setAttribute("aria-pressed", String(on));
  ui.talk.dataset.mode = mode;
  ui.talk.disabled = !bridge.ready;
  ui.talkLabel.textContent = t(auto ? (listening ? "stopListening" : "startListening") : pressed ? "releaseToSend" : "holdToTalk");
  const hint = t(auto ? "hintAuto" : touchFirst ? "hintPushToTalkTouch" : "hintPushToTalk");
  setText(ui.talkHint, wakePhrase && transport !== "direct" ? `${hint} ${t("hintName", { name: wakePhrase })}` : hint);
  if (!on) {
    micLevel = 0;
    ui.talk.style.setProperty("--level", "0");
  }
}

function setLevel(peak) {
  micLevel = peak > micLevel ? peak : micLevel * 0.85 + peak * 0.15;
  ui.talk.style.setProperty("--level", Math.min(1, Math.sqrt(micLevel) * 1.5).toFixed(3));
}

// ------------------------------------------------------------------------------------------ audio

const player = new Player(
  (message) => {
    if (message.type === "stats" || message.type === "drained") {
      debug.samplesReceived = message.received;
      debug.samplesPlayed = message.played;
      debug.peakPlayed = message.peak;
    }
  },
  { onBusy: () => showState() },
);

const microphone = new Microphone(onMicFrame);
let micRate = 48000;
try {
  micRate = microphone.prepare();
  debug.captureRate = micRate;
} catch (error) {
  showError(t("audioFailed", { reason: error.message }));
}
if (!audioSupported()) showError(t("micInsecure"));
player.prepare().catch((error) => {
  if (audioSupported()) showError(t("audioFailed", { reason: error.message }));
});

/** Let the audio start (browsers only allow it after a user gesture). */
function unlockAudio() {
  microphone.resume();
  player.resume();
}
for (const type of ["pointerdown", "pointerup", "keydown", "click", "touchend"]) {
  document.addEventListener(type, unlockAudio, { capture: true, passive: true });
}

function sending() {
  return mode === "auto" ? listening : pressed;
}

function onMicFrame(pcm, peak) {
  if (!sending()) return;
  setLevel(peak);
  if (transport === "direct") {
    if (direct.sendAudio(pcm, microphone.rate)) debug.samplesSent += pcm.length;
  } else if (bridge.sendAudio(pcm.buffer)) {
    debug.samplesSent += pcm.length;
  }
}

/** Open the microphone; on failure, say why and let go of the button. */
function openMicrophone() {
  microphone.open().catch((error) => {
    console.warn("microphone", error);
    showError(error.insecure ? t("micInsecure") : t("micFailed", { reason: error.message || error.name }));
    if (pressed) release(pressSource);
    if (listening) stopListening();
  });
}

// ----------------------------------------------------------------------------------------- bridge

const bridge = new BridgeLink({
  hello: () => ({ mode, rate: micRate, language }),
  status: setConnection,
  ready(message) {
    transport = message.transport === "direct" ? "direct" : "bridge";
    debug.transport = transport;
    wakePhrase = typeof message.wake_phrase === "string" && message.wake_phrase ? message.wake_phrase : null;
    if (transport !== "direct") direct.close();
    ui.passwordForm.hidden = true;
    hideError();
    setState("idle");
    updateTalk();
    document.body.dataset.ready = "1";
  },
  message: onBridgeMessage,
  audio(pcm) {
    player.push(pcm);
  },
  refused(reason, hadPassword) {
    if (reason === "password") {
      ui.passwordForm.hidden = false;
      showError(t(hadPassword ? "wrongPassword" : "passwordNeeded"));
      ui.password.focus();
    } else {
      showError(t("tooManyAttempts"));
    }
  },
  closed() {
    if (pressed) release(pressSource);
    if (listening && transport !== "direct") stopListening();
    if (transport !== "direct") setState("idle");
    failToken(new Error(t("notConnected")));
    updateTalk();
  },
});

function showNotice(text) {
  showBanner(ui.notice, ui.noticeText, text);
}

/** An error from the bridge in the page's language: by its code (and cause); the detail is in the log. */
function errorText({ code, cause }) {
  switch (code) {
    case "credentials":
      return t("errCredentials");
    case "unavailable":
      if (cause === "quota") return t("errQuota");
      if (cause === "model_not_found" || cause === "not_found") return t("errModel");
      return t("errUnavailable");
    case "busy":
      return t("errBusy");
    case "slow_down":
      return t("errSlowDown");
    case "session":
      return t("errSession");
    case "token_failed":
      return cause === "quota" ? t("errQuota") : t("errToken");
    case "bad_password":
      return t("wrongPassword");
    case "too_many_attempts":
      return t("tooManyAttempts");
    default:
      return t("errConsole", { code: String(code ?? "error") });
  }
}

function onBridgeMessage(message) {
  switch (message.type) {
    case "state":
      setState(message.state);
      break;
    case "transcript":
      transcript.add(message.role, message.text, Boolean(message.final));
      break;
    case "interrupted":
      player.clear();
      transcript.interrupted();
      break;
    case "answer_cut":
      player.clear();
      transcript.answerCut();
      break;
    case "utterance_replayed":
      transcript.utteranceReplayed();
      break;
    case "turn_complete":
      debug.turns++;
      transcript.closeAll();
      if (mode === "auto" && listening) transcript.spoken();
      break;
    case "tool":
      transcript.tool(message.name, message.status);
      break;
    case "notice":
      if (typeof message.text === "string") {
        showNotice(message.text);
        transcript.notice(message.text);
      }
      break;
    case "cleared":
      transcript.clear();
      player.clear();
      if (message.reason === "busy") showNotice(t("clearedBusy"));
      break;
    case "not_addressed":
      player.clear();
      transcript.notAddressed(t("notAddressed", { name: message.wake_phrase ?? wakePhrase ?? "" }));
      break;
    case "token":
      if (pendingToken) {
        const { resolve, timer } = pendingToken;
        pendingToken = null;
        clearTimeout(timer);
        resolve(message);
      }
      break;
    case "tool_result":
      if (Array.isArray(message.responses)) direct.toolResponse(message.responses);
      break;
    case "error":
      if (message.message) console.warn("bridge:", message.code, message.cause ?? "", message.message);
      if (message.code === "token_failed") failToken(new Error(message.message || message.code), true);
      if (["credentials", "unavailable", "busy"].includes(message.code) && listening) stopListening();
      showError(errorText(message));
      break;
    default:
      break;
  }
}

// ----------------------------------------------------------------------------------- direct mode

const direct = new DirectSession({
  token: requestToken,
  audio(pcm) {
    if (debug.state !== "speaking") setState("speaking");
    player.push(pcm);
  },
  transcript(role, text, final) {
    transcript.add(role, text, final);
  },
  interrupted() {
    player.clear();
    transcript.interrupted();
    setState(sending() ? "listening" : "idle");
  },
  turnComplete() {
    debug.turns++;
    transcript.closeAll();
    setState(sending() ? "listening" : "idle");
  },
  toolCall(calls) {
    for (const call of calls) transcript.tool(call.name, "started");
    if (!bridge.send({ type: "tool_call", calls })) {
      direct.toolResponse(calls.map((c) => ({ id: c.id, name: c.name, response: { error: "the bridge is not connected" } })));
      for (const call of calls) transcript.tool(call.name, "failed");
    }
  },
  goAway() {
    // Gemini ends this session soon; the next press after it closes gets a new token.
  },
  closed({ code, reason }) {
    showError(t("geminiClosed", { reason: reason ? `${reason} (${code})` : String(code) }));
    if (pressed) release(pressSource);
    if (listening) stopListening();
    transcript.closeAll();
    setState("idle");
  },
});

/** Ask the bridge for an ephemeral token (one at a time). */
function requestToken() {
  return new Promise((resolve, reject) => {
    failToken(new Error("superseded"));
    if (!bridge.send({ type: "token" })) {
      reject(new Error(t("notConnected")));
      return;
    }
    const timer = setTimeout(() => failToken(new Error(t("tokenTimeout"))), TOKEN_TIMEOUT_MS);
    pendingToken = { resolve, reject, timer };
  });
}

function failToken(error, shown = false) {
  if (!pendingToken) return;
  const { reject, timer } = pendingToken;
  pendingToken = null;
  clearTimeout(timer);
  error.shown = shown;
  reject(error);
}

/** Open the Gemini session if needed; on failure, say why and stop talking. */
function ensureDirect() {
  return direct.ensure().then(
    () => true,
    (error) => {
      if (error.byPage) return false;
      if (!error.shown && !error.info) showError(t("geminiFailed", { reason: error.message }));
      if (pressed) release(pressSource);
      if (listening) stopListening();
      setState("idle");
      return false;
    },
  );
}

// ----------------------------------------------------------------------------------- talking

/** Push to talk pressed (by the pointer or the space bar). */
function press(source) {
  if (pressed || mode !== "push_to_talk" || !bridge.ready) return;
  pressed = true;
  pressSource = source;
  unlockAudio();
  player.clear(); // the user talks over the reply
  transcript.spoken();
  updateTalk();
  openMicrophone();
  if (transport === "direct") {
    const opening = ensureDirect();
    setState(direct.isOpen ? "listening" : "connecting");
    direct.activityStart();
    opening.then((ok) => {
      if (ok && pressed) setState("listening");
    });
  } else {
    bridge.send({ type: "start" });
  }
}

/** Push to talk released: the user's turn is over. */
function release(source) {
  if (!pressed || (source && source !== pressSource)) return;
  pressed = false;
  pressSource = null;
  activePointer = null;
  updateTalk();
  if (transport === "direct") {
    if (direct.active) {
      direct.activityEnd();
      setState("thinking");
    }
  } else {
    bridge.send({ type: "stop" });
  }
}

function startListening() {
  if (listening || mode !== "auto" || !bridge.ready) return;
  listening = true;
  transcript.spoken();
  unlockAudio();
  updateTalk();
  openMicrophone();
  if (transport === "direct") {
    setState(direct.isOpen ? "listening" : "connecting");
    ensureDirect().then((ok) => {
      if (ok && listening) setState("listening");
    });
  } else {
    bridge.send({ type: "start" });
  }
}

function stopListening() {
  if (!listening) return;
  listening = false;
  updateTalk();
  if (transport === "direct") {
    direct.audioStreamEnd();
    if (debug.state === "listening" || debug.state === "connecting") setState("idle");
  } else {
    bridge.send({ type: "stop" });
  }
}

function releaseAll() {
  if (pressed) release(pressSource);
}

// The talk button: pointer events cover mouse, pen and touch alike.
ui.talk.addEventListener("pointerdown", (event) => {
  if (event.pointerType === "mouse" && event.button !== 0) return;
  unlockAudio();
  if (mode !== "push_to_talk" || ui.talk.disabled) return;
  event.preventDefault();
  try {
    ui.talk.setPointerCapture(event.pointerId);
  } catch {
    // the pointer is already gone
  }
  activePointer = event.pointerId;
  press("pointer");
});
for (const type of ["pointerup", "pointercancel", "lostpointercapture", "pointerleave"]) {
  ui.talk.addEventListener(type, (event) => {
    if (event.pointerId === activePointer) release("pointer");
  });
}
let lastSpace = 0;
ui.talk.addEventListener("click", () => {
  if (mode !== "auto" || performance.now() - lastSpace < 100) return; // the space bar toggles on keydown
  if (listening) stopListening();
  else startListening();
});
ui.talk.addEventListener("contextmenu", (event) => event.preventDefault());

// The space bar, unless typing.
function typing(target) {
  if (!(target instanceof Element)) return false;
  if (target.isContentEditable || target.closest("textarea, select")) return true;
  if (target instanceof HTMLInputElement) {
    return !["button", "checkbox", "radio", "range", "reset", "submit", "color", "file", "image"].includes(target.type);
  }
  return false;
}
function isSpace(event) {
  return (event.code === "Space" || event.key === " ") && !event.ctrlKey && !event.metaKey && !event.altKey;
}
document.addEventListener("keydown", (event) => {
  if (!isSpace(event) || typing(event.target) || !bridge.ready) return; // not connected: Space keeps its meaning
  event.preventDefault();
  lastSpace = performance.now();
  if (event.repeat) return;
  if (mode === "auto") {
    if (listening) stopListening();
    else startListening();
  } else {
    press("key");
  }
});
document.addEventListener("keyup", (event) => {
  if (!isSpace(event) || typing(event.target)) return;
  if (!bridge.ready && pressSource !== "key") return;
  event.preventDefault();
  lastSpace = performance.now();
  release("key");
});
window.addEventListener("blur", () => release("key"));
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") releaseAll();
});

// ----------------------------------------------------------------------------------- other controls

ui.mode.addEventListener("change", () => {
  const chosen = ui.mode.value;
  if (!MODES.includes(chosen) || chosen === mode) return;
  releaseAll();
  stopListening();
  mode = chosen;
  storeMode(chosen);
  direct.close(); // the Gemini session's setup depends on the mode
  bridge.send({ type: "mode", mode });
  transcript.closeAll();
  updateTalk();
});

ui.clear.addEventListener("click", () => {
  player.clear();
  const wasListening = listening && transport === "direct";
  direct.close();
  if (!bridge.send({ type: "clear" })) transcript.clear();
  if (wasListening) ensureDirect();
});

ui.textForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.text.value.trim();
  if (!text) return;
  unlockAudio();
  if (!bridge.ready) {
    showError(t("notConnected"));
    return;
  }
  if (transport === "direct") {
    ensureDirect();
    direct.text(text);
    transcript.add("user", text, true);
    setState("thinking");
  } else {
    bridge.send({ type: "text", text });
  }
  ui.text.value = "";
});

ui.passwordForm.addEventListener("submit", (event) => {
  event.preventDefault();
  hideError();
  bridge.connect(ui.password.value);
});

// ------------------------------------------------------------------------------------------ start

setState("idle");
updateTalk();
// Only the fragment (#password=…) is read: unlike a query it never reaches a server, log or referrer.
bridge.connect(hashQuery.get("password"));
