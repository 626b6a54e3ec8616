// The page's language and direction, and its UI strings (English and Arabic).

const RTL_LANGUAGES = new Set(["ar", "he", "iw", "fa", "ur", "ps", "ckb", "sd", "ug", "yi", "dv"]);

const STRINGS = {
  en: {
    title: "Gemini Live",
    status: "Status",
    connecting: "connecting",
    connected: "connected",
    disconnected: "disconnected",
    idle: "idle",
    listening: "listening",
    thinking: "thinking",
    speaking: "speaking",
    conversation: "Conversation",
    you: "You",
    gemini: "Gemini",
    mode: "Mode",
    pushToTalk: "Push to talk",
    automatic: "Automatic",
    clear: "Clear history",
    holdToTalk: "Hold to talk",
    releaseToSend: "Release to send",
    startListening: "Start listening",
    stopListening: "Stop listening",
    hintPushToTalk: "Hold the button or the space bar while you speak.",
    hintAuto: "Press once to start listening; pauses end each turn. Press again to stop.",
    typeRequest: "Type a request",
    send: "Send",
    password: "Password",
    login: "Log in",
    passwordNeeded: "This console needs a password.",
    wrongPassword: "Wrong password.",
    tooManyAttempts: "Too many wrong passwords: wait 30 seconds and try again.",
    dismiss: "Dismiss",
    notConnected: "Not connected to the bridge.",
    micFailed: "The microphone could not be opened: {reason}",
    micInsecure: "The microphone and audio need a secure page (HTTPS, or http://localhost).",
    audioFailed: "Audio playback could not be started: {reason}",
    geminiClosed: "Gemini closed the connection: {reason}",
    geminiFailed: "Could not connect to Gemini: {reason}",
    tokenTimeout: "The bridge sent no token.",
    toolStarted: "{name}…",
    toolFinished: "{name} ✓",
    toolFailed: "{name} failed",
    interrupted: "interrupted",
  },
  ar: {
    title: "Gemini Live",
    status: "الحالة",
    connecting: "جارٍ الاتصال",
    connected: "متصل",
    disconnected: "غير متصل",
    idle: "في الانتظار",
    listening: "يستمع",
    thinking: "يفكر",
    speaking: "يتحدث",
    conversation: "المحادثة",
    you: "أنت",
    gemini: "Gemini",
    mode: "الوضع",
    pushToTalk: "اضغط للتحدث",
    automatic: "تلقائي",
    clear: "مسح السجل",
    holdToTalk: "اضغط مطولًا للتحدث",
    releaseToSend: "اترك الزر للإرسال",
    startListening: "ابدأ الاستماع",
    stopListening: "أوقف الاستماع",
    hintPushToTalk: "اضغط مطولًا على الزر أو على مفتاح المسافة أثناء حديثك.",
    hintAuto: "اضغط مرة لبدء الاستماع؛ يُنهي التوقف كل دور. اضغط مرة أخرى للإيقاف.",
    typeRequest: "اكتب طلبًا",
    send: "إرسال",
    password: "كلمة المرور",
    login: "دخول",
    passwordNeeded: "تحتاج وحدة التحكم هذه إلى كلمة مرور.",
    wrongPassword: "كلمة المرور غير صحيحة.",
    tooManyAttempts: "محاولات خاطئة كثيرة: انتظر 30 ثانية ثم حاول مجددًا.",
    dismiss: "إغلاق",
    notConnected: "غير متصل بالجسر.",
    micFailed: "تعذّر فتح الميكروفون: {reason}",
    micInsecure: "يحتاج الميكروفون والصوت إلى صفحة آمنة (HTTPS أو http://localhost).",
    audioFailed: "تعذّر تشغيل الصوت: {reason}",
    geminiClosed: "أغلق Gemini الاتصال: {reason}",
    geminiFailed: "تعذّر الاتصال بـ Gemini: {reason}",
    tokenTimeout: "لم يرسل الجسر رمز الدخول.",
    toolStarted: "{name}…",
    toolFinished: "{name} ✓",
    toolFailed: "فشل {name}",
    interrupted: "مقاطَع",
  },
};

/** The page's language: `?lang=` when given (and valid), else the browser's. */
export function pageLanguage() {
  const requested = new URLSearchParams(location.search).get("lang");
  for (const candidate of [requested, navigator.language]) {
    if (!candidate) continue;
    try {
      const [canonical] = Intl.getCanonicalLocales(candidate.trim());
      if (canonical) return canonical;
    } catch {
      // not a language tag: try the next one
    }
  }
  return "en";
}

/** Whether `language` (a BCP-47 tag) is written right to left. */
export function isRightToLeft(language) {
  return RTL_LANGUAGES.has(language.toLowerCase().split(/[-_]/)[0]);
}

/** A translator for `language`: English unless the language is Arabic. */
export function translator(language) {
  const table = language.toLowerCase().startsWith("ar") ? STRINGS.ar : STRINGS.en;
  return (key, values = {}) => {
    const text = table[key] ?? STRINGS.en[key] ?? key;
    return text.replace(/\{(\w+)\}/g, (match, name) => (name in values ? String(values[name]) : match));
  };
}

/** Fill in the elements marked with data-i18n (text), data-i18n-placeholder and data-i18n-label (aria-label). */
export function translatePage(root, t) {
  for (const element of root.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  for (const element of root.querySelectorAll("[data-i18n-placeholder]")) {
    element.placeholder = t(element.dataset.i18nPlaceholder);
  }
  for (const element of root.querySelectorAll("[data-i18n-label]")) {
    element.setAttribute("aria-label", t(element.dataset.i18nLabel));
  }
}
