"""Interface strings of the Telegram bot, in our users' languages (en, ru, kk, uk, de)."""

from __future__ import annotations

from handlers.i18n import pick

STRINGS: dict[str, dict[str, str]] = {
    "start": {
        "en": "Hello! I check rumours.",
        "ru": "Здравствуйте! Я проверяю слухи.",
        "kk": "Сәлеметсіз бе! Мен қауесеттерді тексеремін.",
        "uk": "Вітаю! Я перевіряю чутки.",
        "de": "Hallo! Ich prüfe Gerüchte.",
    },
    "help": {
        "en": "Forward me a suspicious post, or send me its text, or a photo or video with its "
        "caption. I compare it with our knowledge base of known rumours and official "
        "rebuttals and answer with the verdict, the context and the sources. If I do not know "
        "the post yet, I pass it to our fact-checkers.\n\n"
        "In a group, mention {bot} or reply /check to a message. Group admins can let me "
        "answer rumours on my own with /autoreply on.\n\n"
        "/about shows the size of the knowledge base.",
        "ru": "Перешлите мне подозрительный пост или пришлите его текст, фото или видео с "
        "подписью. Я сравню его с нашей базой известных слухов и официальных опровержений и "
        "отвечу вердиктом, пояснением и источниками. Если такого поста в базе ещё нет, я "
        "передам его фактчекерам.\n\n"
        "В группе упомяните {bot} или ответьте /check на сообщение. Администраторы группы "
        "могут включить мои автоматические ответы командой /autoreply on.\n\n"
        "/about покажет размер базы.",
        "kk": "Маған күдікті жазбаны бағыттаңыз немесе оның мәтінін, қолтаңбасы бар фото не "
        "видеоны жіберіңіз. Мен оны белгілі қауесеттер мен ресми теріске шығарулар базасымен "
        "салыстырып, қорытынды, түсініктеме және дереккөздермен жауап беремін. Егер жазба "
        "базада әлі жоқ болса, оны фактчекерлерге жіберемін.\n\n"
        "Топта {bot} деп атаңыз немесе хабарламаға /check деп жауап жазыңыз. Топ әкімшілері "
        "/autoreply on командасымен менің автоматты жауаптарымды қоса алады.\n\n"
        "/about базаның көлемін көрсетеді.",
        "uk": "Перешліть мені підозрілий допис або надішліть його текст, фото чи відео з "
        "підписом. Я порівняю його з нашою базою відомих чуток і офіційних спростувань і "
        "відповім вердиктом, поясненням і джерелами. Якщо такого допису в базі ще немає, я "
        "передам його фактчекерам.\n\n"
        "У групі згадайте {bot} або відповідайте /check на повідомлення. Адміністратори групи "
        "можуть увімкнути мої автоматичні відповіді командою /autoreply on.\n\n"
        "/about покаже розмір бази.",
        "de": "Leiten Sie mir einen verdächtigen Beitrag weiter oder schicken Sie mir seinen "
        "Text oder ein Foto oder Video mit Bildunterschrift. Ich vergleiche ihn mit unserer "
        "Datenbank bekannter Gerüchte und offizieller Richtigstellungen und antworte mit dem "
        "Urteil, dem Zusammenhang und den Quellen. Kenne ich den Beitrag noch nicht, gebe ich "
        "ihn an unser Faktencheck-Team weiter.\n\n"
        "In einer Gruppe erwähnen Sie {bot} oder antworten mit /check auf eine Nachricht. "
        "Gruppen-Admins können mit /autoreply on automatische Antworten einschalten.\n\n"
        "/about zeigt den Umfang der Datenbank.",
    },
    "about": {
        "en": "Knowledge base: {count} checked claims. Last updated: {date}.",
        "ru": "База знаний: проверенных утверждений — {count}. Последнее обновление: {date}.",
        "kk": "Білім базасы: тексерілген мәлімдемелер саны — {count}. Соңғы жаңарту: {date}.",
        "uk": "База знань: перевірених тверджень — {count}. Останнє оновлення: {date}.",
        "de": "Wissensdatenbank: {count} geprüfte Behauptungen. Zuletzt aktualisiert: {date}.",
    },
    "never": {"en": "never", "ru": "никогда", "kk": "ешқашан", "uk": "ніколи", "de": "nie"},
    "helpful": {
        "en": "👍 Helpful",
        "ru": "👍 Полезно",
        "kk": "👍 Пайдалы",
        "uk": "👍 Корисно",
        "de": "👍 Hilfreich",
    },
    "not_this": {
        "en": "👎 Not this",
        "ru": "👎 Не то",
        "kk": "👎 Бұл емес",
        "uk": "👎 Не те",
        "de": "👎 Passt nicht",
    },
    "yes": {"en": "✅ Yes", "ru": "✅ Да", "kk": "✅ Иә", "uk": "✅ Так", "de": "✅ Ja"},
    "no": {"en": "✖️ No", "ru": "✖️ Нет", "kk": "✖️ Жоқ", "uk": "✖️ Ні", "de": "✖️ Nein"},
    "thanks": {
        "en": "Thank you for the feedback!",
        "ru": "Спасибо за отзыв!",
        "kk": "Пікіріңізге рахмет!",
        "uk": "Дякуємо за відгук!",
        "de": "Danke für die Rückmeldung!",
    },
    "passed_on": {
        "en": "Thank you! We have passed the post to our fact-checkers.",
        "ru": "Спасибо! Мы передали пост фактчекерам.",
        "kk": "Рахмет! Біз жазбаны фактчекерлерге жібердік.",
        "uk": "Дякуємо! Ми передали допис фактчекерам.",
        "de": "Danke! Wir haben den Beitrag an unser Faktencheck-Team weitergegeben.",
    },
    "stale_button": {
        "en": "This button no longer works.",
        "ru": "Эта кнопка больше не работает.",
        "kk": "Бұл батырма енді жұмыс істемейді.",
        "uk": "Ця кнопка більше не працює.",
        "de": "Diese Schaltfläche funktioniert nicht mehr.",
    },
    "flood": {
        "en": "You are sending posts faster than I can check them. "
        "Please wait a minute, then send the rest again.",
        "ru": "Вы присылаете посты быстрее, чем я успеваю их проверять. "
        "Подождите минуту и пришлите остальные ещё раз.",
        "kk": "Сіз жазбаларды мен тексеріп үлгергеннен жылдам жіберіп жатырсыз. "
        "Бір минут күтіп, қалғандарын қайта жіберіңіз.",
        "uk": "Ви надсилаєте дописи швидше, ніж я встигаю їх перевіряти. "
        "Зачекайте хвилину й надішліть решту ще раз.",
        "de": "Sie schicken Beiträge schneller, als ich sie prüfen kann. "
        "Bitte warten Sie eine Minute und schicken Sie den Rest dann noch einmal.",
    },
    "batch_header": {
        "en": "Posts checked: {n}",
        "ru": "Проверено постов: {n}",
        "kk": "Тексерілген жазбалар: {n}",
        "uk": "Перевірено дописів: {n}",
        "de": "Geprüfte Beiträge: {n}",
    },
    "batch_unmatched": {
        "en": "Not in our knowledge base yet: {n}. We have passed them to our fact-checkers "
        "and will tell you when they are checked.",
        "ru": "Пока нет в нашей базе: {n}. Мы передали их фактчекерам и сообщим, когда они "
        "будут проверены.",
        "kk": "Біздің базада әзірге жоқ: {n}. Біз оларды фактчекерлерге жібердік, тексерілген "
        "соң хабарлаймыз.",
        "uk": "Поки немає в нашій базі: {n}. Ми передали їх фактчекерам і повідомимо, коли їх "
        "перевірять.",
        "de": "Noch nicht in unserer Datenbank: {n}. Wir haben sie an unser Faktencheck-Team "
        "weitergegeben und melden uns, sobald sie geprüft sind.",
    },
    "batch_more": {
        "en": "Answers that did not fit into this message: {n}. Send those posts one at a time.",
        "ru": "Ответы, которые не поместились в это сообщение: {n}. Пришлите эти посты по одному.",
        "kk": "Бұл хабарламаға сыймаған жауаптар: {n}. Ол жазбаларды бір-бірден жіберіңіз.",
        "uk": "Відповіді, що не вмістилися в це повідомлення: {n}. Надішліть ці дописи по одному.",
        "de": "Antworten, die nicht in diese Nachricht passten: {n}. "
        "Schicken Sie diese Beiträge einzeln.",
    },
    "no_text": {
        "en": "I check the words of a post. Send the photo or video with its caption, "
        "or send me the text.",
        "ru": "Я проверяю текст поста. Пришлите фото или видео вместе с подписью "
        "или пришлите сам текст.",
        "kk": "Мен жазбаның мәтінін тексеремін. Фото не видеоны қолтаңбасымен бірге "
        "жіберіңіз немесе мәтінін жіберіңіз.",
        "uk": "Я перевіряю текст допису. Надішліть фото чи відео разом із підписом "
        "або надішліть сам текст.",
        "de": "Ich prüfe den Wortlaut eines Beitrags. Schicken Sie das Foto oder Video mit "
        "seiner Bildunterschrift oder schicken Sie mir den Text.",
    },
    "check_usage": {
        "en": "Reply /check to the message you want me to check, or write /check and the text.",
        "ru": "Ответьте /check на сообщение, которое нужно проверить, или напишите /check и текст.",
        "kk": "Тексеру керек хабарламаға /check деп жауап беріңіз немесе /check және мәтінді "
        "жазыңыз.",
        "uk": "Відповідайте /check на повідомлення, яке треба перевірити, або напишіть /check "
        "і текст.",
        "de": "Antworten Sie mit /check auf die Nachricht, die ich prüfen soll, oder schreiben "
        "Sie /check und den Text.",
    },
    "already": {
        "en": "I have answered this message already.",
        "ru": "Я уже ответил на это сообщение.",
        "kk": "Мен бұл хабарламаға жауап бердім.",
        "uk": "Я вже відповів на це повідомлення.",
        "de": "Auf diese Nachricht habe ich bereits geantwortet.",
    },
    "on": {"en": "on", "ru": "включены", "kk": "қосулы", "uk": "увімкнено", "de": "an"},
    "off": {"en": "off", "ru": "выключены", "kk": "өшірулі", "uk": "вимкнено", "de": "aus"},
    "autoreply_status": {
        "en": "Automatic answers in this chat: {state}. Bar: {threshold}.",
        "ru": "Автоматические ответы в этом чате: {state}. Порог: {threshold}.",
        "kk": "Бұл чаттағы автоматты жауаптар: {state}. Шек: {threshold}.",
        "uk": "Автоматичні відповіді в цьому чаті: {state}. Поріг: {threshold}.",
        "de": "Automatische Antworten in diesem Chat: {state}. Schwelle: {threshold}.",
    },
    "autoreply_on": {
        "en": "Automatic answers are on. I will answer posts here that state a known rumour "
        "with high confidence, at most once per rumour every {minutes} minutes, and stay "
        "silent otherwise. /autoreply off stops me.",
        "ru": "Автоматические ответы включены. Я буду отвечать здесь на посты, которые с "
        "высокой уверенностью повторяют известный слух, не чаще раза в {minutes} минут на "
        "каждый слух, а в остальных случаях молчать. /autoreply off остановит меня.",
        "kk": "Автоматты жауаптар қосылды. Мен мұнда белгілі қауесетті жоғары сенімділікпен "
        "қайталайтын жазбаларға әр қауесетке {minutes} минутта бір реттен жиі емес жауап "
        "беремін, басқа жағдайда үндемеймін. /autoreply off мені тоқтатады.",
        "uk": "Автоматичні відповіді увімкнено. Я відповідатиму тут на дописи, які з високою "
        "впевненістю повторюють відому чутку, не частіше разу на {minutes} хвилин для кожної "
        "чутки, а в інших випадках мовчатиму. /autoreply off зупинить мене.",
        "de": "Automatische Antworten sind an. Ich antworte hier auf Beiträge, die mit hoher "
        "Sicherheit ein bekanntes Gerücht wiedergeben, höchstens einmal je Gerücht alle "
        "{minutes} Minuten, und schweige sonst. /autoreply off stoppt mich.",
    },
    "autoreply_off": {
        "en": "Automatic answers are off.",
        "ru": "Автоматические ответы выключены.",
        "kk": "Автоматты жауаптар өшірілді.",
        "uk": "Автоматичні відповіді вимкнено.",
        "de": "Automatische Antworten sind aus.",
    },
    "autoreply_threshold": {
        "en": "The bar for automatic answers is now {threshold}.",
        "ru": "Порог для автоматических ответов теперь {threshold}.",
        "kk": "Автоматты жауаптардың шегі енді {threshold}.",
        "uk": "Поріг для автоматичних відповідей тепер {threshold}.",
        "de": "Die Schwelle für automatische Antworten ist jetzt {threshold}.",
    },
    "autoreply_usage": {
        "en": "Use /autoreply on, /autoreply off or /autoreply threshold 0.97 "
        "(a number from 0.5 to 1; higher means fewer, surer answers).",
        "ru": "Используйте /autoreply on, /autoreply off или /autoreply threshold 0.97 "
        "(число от 0.5 до 1; чем выше, тем реже и увереннее ответы).",
        "kk": "/autoreply on, /autoreply off немесе /autoreply threshold 0.97 пайдаланыңыз "
        "(0.5-тен 1-ге дейінгі сан; неғұрлым жоғары болса, жауаптар соғұрлым сирек әрі сенімді).",
        "uk": "Використовуйте /autoreply on, /autoreply off або /autoreply threshold 0.97 "
        "(число від 0.5 до 1; що вище, то рідші й певніші відповіді).",
        "de": "Verwenden Sie /autoreply on, /autoreply off oder /autoreply threshold 0.97 "
        "(eine Zahl von 0.5 bis 1; je höher, desto seltenere und sicherere Antworten).",
    },
    "admins_only": {
        "en": "Only the chat's admins can change this.",
        "ru": "Это могут менять только администраторы чата.",
        "kk": "Мұны тек чат әкімшілері өзгерте алады.",
        "uk": "Це можуть змінювати лише адміністратори чату.",
        "de": "Nur die Admins des Chats können das ändern.",
    },
    "groups_only": {
        "en": "Automatic answers work in groups and in channels' discussion groups: add me "
        "to one and send /autoreply on there.",
        "ru": "Автоматические ответы работают в группах и группах обсуждения каналов: "
        "добавьте меня туда и отправьте там /autoreply on.",
        "kk": "Автоматты жауаптар топтарда және арналардың талқылау топтарында жұмыс істейді: "
        "мені сонда қосып, /autoreply on жіберіңіз.",
        "uk": "Автоматичні відповіді працюють у групах і групах обговорення каналів: додайте "
        "мене туди й надішліть там /autoreply on.",
        "de": "Automatische Antworten gibt es in Gruppen und Diskussionsgruppen von Kanälen: "
        "Fügen Sie mich dort hinzu und senden Sie dort /autoreply on.",
    },
}

COMMANDS: dict[str, dict[str, str]] = {
    "start": {
        "en": "What this bot does",
        "ru": "Что умеет этот бот",
        "kk": "Бот не істей алады",
        "uk": "Що вміє цей бот",
        "de": "Was dieser Bot kann",
    },
    "help": {
        "en": "How to check a post",
        "ru": "Как проверить пост",
        "kk": "Жазбаны қалай тексеруге болады",
        "uk": "Як перевірити допис",
        "de": "Wie man einen Beitrag prüft",
    },
    "about": {
        "en": "Size of the knowledge base",
        "ru": "Размер базы знаний",
        "kk": "Білім базасының көлемі",
        "uk": "Розмір бази знань",
        "de": "Umfang der Wissensdatenbank",
    },
    "check": {
        "en": "Check the message you reply to",
        "ru": "Проверить сообщение, на которое вы отвечаете",
        "kk": "Жауап берген хабарламаны тексеру",
        "uk": "Перевірити повідомлення, на яке ви відповідаєте",
        "de": "Die beantwortete Nachricht prüfen",
    },
    "autoreply": {
        "en": "Automatic answers: on, off, threshold",
        "ru": "Автоответы: on, off, threshold",
        "kk": "Автожауаптар: on, off, threshold",
        "uk": "Автовідповіді: on, off, threshold",
        "de": "Automatische Antworten: on, off, threshold",
    },
}


def text(key: str, lang: str, **values: object) -> str:
    """The interface string `key` in `lang` (English when missing), with `values` filled in."""
    template = pick(STRINGS[key], lang)
    return template.format(**values) if values else template


def command_description(command: str, lang: str) -> str:
    return pick(COMMANDS[command], lang)
