// The page's language and direction, its UI strings (English and Arabic), and the direction of any text.
//
// Latin names inside Arabic strings sit in Unicode isolates (U+2068 … U+2069): the text then reads right to
// left whatever its first word, and the name keeps its own order. Text from elsewhere (transcripts, the
// bridge's notices) takes its direction from its letters: see textDirection().

const RTL_LANGUAGES = new Set(["ar", "he", "iw", "fa", "ur", "ps", "ckb", "sd", "ug", "yi", "dv"]);
const FSI = "\u2068"; // first strong isolate
const PDI = "\u2069"; // pop directional isolate
const ISOLATED = /[\u2066\u2067\u2068][^\u2069]*\u2069?/gu;
const RTL_LETTER = /[\p{Script=Arabic}\p{Script=Hebrew}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}]/gu;
const LETTER = /\p{L}/gu;

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
    untranscribed: "(spoken; no transcript came)",
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
    hintPushToTalkTouch: "Hold the button while you speak.",
    hintAuto: "Press once to start listening; pauses end each turn. Press again to stop.",
    hintName: "Start with “{name}”.",
    notAddressed: "Not answered: start with “{name}”.",
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
    errCredentials: "Gemini refused the bridge's credentials: check its API key or service account.",
    errUnavailable: "Gemini cannot be reached right now; try again shortly.",
    errQuota: "Gemini's quota is used up for now; try again later.",
    errModel: "The Gemini model the bridge asks for is not available.",
    errBusy: "Too many consoles are talking at once; try again shortly.",
    errSlowDown: "Too many requests at once; wait a moment.",
    errSession: "Gemini reported a problem; the conversation goes on.",
    errToken: "The bridge could not get a Gemini session for this page.",
    errConsole: "Something went wrong in the console ({code}).",
    clearedBusy: "Another console needed the session, so this conversation was closed.",
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
    untranscribed: "(كلام منطوق؛ لم يصل نصّه)",
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
    hintPushToTalkTouch: "اضغط مطولًا على الزر أثناء حديثك.",
    hintAuto: "اضغط مرة لبدء الاستماع؛ يُنهي التوقف كل دور. اضغط مرة أخرى للإيقاف.",
    hintName: "ابدأ كلامك بـ«{name}».",
    notAddressed: "لم تتم الإجابة: ابدأ كلامك بـ«{name}».",
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
    micInsecure: `يحتاج الميكروفون والصوت إلى صفحة آمنة (${FSI}HTTPS${PDI} أو ${FSI}http://localhost${PDI}).`,
    audioFailed: "تعذّر تشغيل الصوت: {reason}",
    geminiClosed: `أغلق ${FSI}Gemini${PDI} الاتصال: {reason}`,
    geminiFailed: `تعذّر الاتصال بـ${FSI}Gemini${PDI}: {reason}`,
    tokenTimeout: "لم يرسل الجسر رمز الدخول.",
    errCredentials: `رفض ${FSI}Gemini${PDI} بيانات اعتماد الجسر: تحقّق من مفتاح ${FSI}API${PDI} أو حساب الخدمة.`,
    errUnavailable: `تعذّر الوصول إلى ${FSI}Gemini${PDI} الآن؛ حاول بعد قليل.`,
    errQuota: `نفدت حصة ${FSI}Gemini${PDI} حاليًا؛ حاول لاحقًا.`,
    errModel: `نموذج ${FSI}Gemini${PDI} الذي يطلبه الجسر غير متاح.`,
    errBusy: "وحدات تحكم كثيرة تتحدث في الوقت نفسه؛ حاول بعد قليل.",
    errSlowDown: "طلبات كثيرة في وقت واحد؛ انتظر قليلًا.",
    errSession: `أبلغ ${FSI}Gemini${PDI} عن مشكلة؛ تستمر المحادثة.`,
    errToken: `تعذّر على الجسر الحصول على جلسة ${FSI}Gemini${PDI} لهذه الصفحة.`,
    errConsole: "حدث خطأ في وحدة التحكم ({code}).",
    clearedBusy: "احتاجت وحدة تحكم أخرى إلى الجلسة، فأُغلقت هذه المحادثة.",
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

/**
 * A translator for `language`: English unless the language is Arabic. Values filled into a string are
 * isolated, so that a Latin reason or name inside an Arabic sentence keeps the sentence right to left.
 */
export function translator(language) {
  const table = language.toLowerCase().startsWith("ar") ? STRINGS.ar : STRINGS.en;
  return (key, values = {}) => {
    const text = table[key] ?? STRINGS.en[key] ?? key;
    return text.replace(/\{(\w+)\}/g, (match, name) => (name in values ? isolate(String(values[name])) : match));
  };
}

/** `text` in a first-strong isolate. */
export function isolate(text) {
  return text === "" ? text : `${FSI}${text}${PDI}`;
}

/**
 * The direction to show `text` in: "rtl" when right-to-left letters (Arabic, Hebrew, …) are at least as
 * many as the others, "ltr" when other letters are, null when it has no letters. Isolated runs do not
 * count: "⁨Gemini Live⁩ غير متاح الآن" is right to left, as it is meant to be, although it starts in Latin.
 */
export function textDirection(text) {
  const outside = String(text ?? "").replace(ISOLATED, " ");
  const letters = outside.match(LETTER)?.length ?? 0;
  if (letters === 0) return null;
  const rtl = outside.match(RTL_LETTER)?.length ?? 0;
  return rtl > 0 && rtl * 2 >= letters ? "rtl" : "ltr";
}

/** Show `text` in `element` with its own direction ("auto" when it has no letters). */
export function setText(element, text) {
  element.textContent = text;
  element.setAttribute("dir", textDirection(text) ?? "auto");
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
