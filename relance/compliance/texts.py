"""The opt-out page's wording in the languages reminders are sent in.

Whoever opts out reads the page in the language of the reminders they received (the customer's),
so the page cannot depend on the site's own locale. Sentences avoid inserting the channel's name
into grammar (genders and articles differ): the channel is shown on its own line.
"""

from __future__ import annotations

from collections.abc import Mapping

OPT_OUT_TEXTS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "title": "Unsubscribe",
        "intro": "{creditor} sends you reminders about amounts due. Confirm to stop them on this channel:",
        "button": "Stop these messages",
        "done": "Done. {creditor} will no longer contact you on this channel:",
        "already": "You have already opted out. {creditor} no longer contacts you on this channel:",
        "other": "This does not change what is owed; other channels you have not opted out of may still be used.",
        "email": "Email",
        "sms": "Text messages (SMS)",
        "letter": "Letters",
        "call": "Phone calls",
    },
    "fr": {
        "title": "Désinscription",
        "intro": "{creditor} vous envoie des rappels concernant des montants dus. "
        "Confirmez pour ne plus les recevoir sur ce canal :",
        "button": "Ne plus recevoir ces messages",
        "done": "C'est fait. {creditor} ne vous contactera plus sur ce canal :",
        "already": "Vous êtes déjà désinscrit. {creditor} ne vous contacte plus sur ce canal :",
        "other": "Cela ne change rien aux montants dus ; les autres canaux dont vous ne vous êtes pas "
        "désinscrit peuvent encore être utilisés.",
        "email": "E-mail",
        "sms": "SMS",
        "letter": "Courrier",
        "call": "Appels téléphoniques",
    },
    "de": {
        "title": "Abmelden",
        "intro": "{creditor} sendet Ihnen Erinnerungen zu fälligen Beträgen. "
        "Bestätigen Sie, um sie über diesen Kanal nicht mehr zu erhalten:",
        "button": "Diese Nachrichten abbestellen",
        "done": "Erledigt. {creditor} wird Sie über diesen Kanal nicht mehr kontaktieren:",
        "already": "Sie haben sich bereits abgemeldet. {creditor} kontaktiert Sie über diesen Kanal nicht mehr:",
        "other": "Am geschuldeten Betrag ändert sich dadurch nichts; andere Kanäle, von denen Sie sich nicht "
        "abgemeldet haben, können weiter genutzt werden.",
        "email": "E-Mail",
        "sms": "SMS",
        "letter": "Briefe",
        "call": "Telefonanrufe",
    },
    "es": {
        "title": "Darse de baja",
        "intro": "{creditor} le envía recordatorios sobre importes pendientes. "
        "Confirme para dejar de recibirlos por este canal:",
        "button": "Dejar de recibir estos mensajes",
        "done": "Hecho. {creditor} ya no le contactará por este canal:",
        "already": "Ya se ha dado de baja. {creditor} ya no le contacta por este canal:",
        "other": "Esto no cambia lo que se adeuda; se pueden seguir usando otros canales de los que no se ha "
        "dado de baja.",
        "email": "Correo electrónico",
        "sms": "SMS",
        "letter": "Cartas",
        "call": "Llamadas telefónicas",
    },
    "it": {
        "title": "Annulla iscrizione",
        "intro": "{creditor} le invia promemoria su importi dovuti. Confermi per non riceverli più su questo canale:",
        "button": "Non ricevere più questi messaggi",
        "done": "Fatto. {creditor} non la contatterà più su questo canale:",
        "already": "Ha già annullato l'iscrizione. {creditor} non la contatta più su questo canale:",
        "other": "Ciò non modifica gli importi dovuti; altri canali da cui non ha annullato l'iscrizione "
        "possono ancora essere utilizzati.",
        "email": "E-mail",
        "sms": "SMS",
        "letter": "Lettere",
        "call": "Telefonate",
    },
    "zh-hans": {
        "title": "退订",
        "intro": "{creditor} 会向您发送应付款项提醒。确认后，您将不再通过以下渠道收到这些提醒：",
        "button": "停止接收这些消息",
        "done": "已完成。{creditor} 将不再通过以下渠道与您联系：",
        "already": "您已退订。{creditor} 不再通过以下渠道与您联系：",
        "other": "这不会改变应付金额；您未退订的其他渠道仍可能被使用。",
        "email": "电子邮件",
        "sms": "短信",
        "letter": "信件",
        "call": "电话",
    },
}


def page_language(code: str) -> str:
    """The closest language we have for a BCP 47 code (``fr-CA`` → ``fr``, ``zh`` → ``zh-hans``)."""
    code = (code or "").strip().lower().replace("_", "-")
    if code.startswith("zh"):
        return "zh-hans"
    primary = code.split("-", 1)[0]
    return primary if primary in OPT_OUT_TEXTS else "en"


def opt_out_texts(language: str, *, creditor: str) -> dict[str, str]:
    texts = OPT_OUT_TEXTS[page_language(language)]
    return {key: value.format(creditor=creditor) for key, value in texts.items()}
