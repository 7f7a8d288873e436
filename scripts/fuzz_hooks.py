"""Schemathesis hooks for `make fuzz` (loaded through SCHEMATHESIS_HOOKS by scripts/fuzz.sh).

The fuzzer tests shapes: that every request the document allows is handled without a 5xx and answered as
documented. Some refusals depend on state, not shape, and no schema can state them: an `Idempotency-Key` sent
again with another request (422 `idempotency_key_reused`), a `source_id` or webhook URL already taken (422
`taken`), an email, phone number or identifier another contact holds (422 `taken`, also for a secondary
identity). Generated data repeats small values often, so the fuzzer would mostly meet those refusals and never
reach the handlers. These hooks make such values unique per request; the refusals themselves are covered by the
acceptance tests (tests/acceptance/idempotency.rs, contacts.rs, identities.rs, the webhook tests).

One rule is about shape but beyond what OpenAPI 3.0 can state: `GET …/contacts/lookup` takes exactly one of its
three query parameters (400 otherwise, tested in tests/acceptance/identities.rs). The hook keeps the first one
the fuzzer generated, or adds an identifier when it generated none. Likewise a many-contact merge relates its
fields: the base is not among the mergees, and a winner named in `attributes` is one of the contacts merged
(400 otherwise, tested in tests/acceptance/merge_many.rs); the hook takes the base out of the mergees and names
the base where a generated winner is no contact of the request. The ids of a many-contact merge and of a
dismissal are mapped onto the seeded contacts, so that those requests mostly reach their use case instead of
a 404.
"""

import itertools

import schemathesis

_counter = itertools.count(1)


def _unique(value, limit):
    suffix = f"-{next(_counter)}"
    return value[: max(0, limit - len(suffix))] + suffix


SEEDED_CONTACTS = 2000


def _seeded(contact_id):
    """One of the contacts scripts/fuzz.sh seeds (ids 1 to SEEDED_CONTACTS)."""
    return 1 + (abs(contact_id) - 1) % SEEDED_CONTACTS


@schemathesis.hook
def map_case(context, case):
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == "idempotency-key" and isinstance(headers[name], str) and headers[name]:
            headers[name] = _unique(headers[name], 255)
    if context.operation.path.endswith("/contacts/lookup"):
        query = {k: v for k, v in (case.query or {}).items() if k in ("email", "phone_number", "identifier")}
        first = next(iter(query.items()), ("identifier", "fuzz"))
        case.query = dict([first])
    body = case.body
    if isinstance(body, dict) and context.operation.path.endswith("/contact_duplicates/dismiss"):
        ids = body.get("contact_ids")
        if isinstance(ids, list) and len(ids) == 2 and all(isinstance(i, int) and i > 0 for i in ids):
            first = _seeded(ids[0])
            second = _seeded(ids[1])
            body["contact_ids"] = [first, second if second != first else _seeded(first + 1)]
    if isinstance(body, dict) and "/actions/contact_merge_many" in context.operation.path:
        base, mergees = body.get("base_contact_id"), body.get("mergee_contact_ids")
        if isinstance(base, int) and isinstance(mergees, list) and all(isinstance(m, int) for m in mergees):
            # ids among the seeded contacts (scripts/fuzz.sh), so that a merge of several mostly finds them all
            base = _seeded(base)
            body["base_contact_id"] = base
            mergees = list(dict.fromkeys(_seeded(m) for m in mergees if _seeded(m) != base)) or [_seeded(base + 1)]
            body["mergee_contact_ids"] = mergees
            attributes = body.get("attributes")
            if isinstance(attributes, dict):
                for field, pick in list(attributes.items()):
                    if isinstance(pick, int) and not isinstance(pick, bool) and pick != base and pick not in mergees:
                        attributes[field] = base
    if isinstance(body, dict) and context.operation.path.endswith("/identities"):
        value, kind = body.get("value"), body.get("kind")
        if isinstance(value, str) and value.strip():
            if kind == "email" and value.count("@") == 1:
                local, domain = value.split("@")
                tag = f"u{next(_counter)}."
                if local and len(tag + local) <= 64 and len(tag + value) <= 254:
                    body["value"] = f"{tag}{local}@{domain}"
            elif kind == "phone_number" and value.startswith("+"):
                body["value"] = f"+1{next(_counter):010d}"
            elif kind == "identifier":
                body["value"] = _unique(value, 255)
    if isinstance(body, dict):
        source_id = body.get("source_id")
        # a new contact's (or contact inbox's) source id must be free; a conversation's must already exist
        creates_address = context.operation.path.endswith(("/contacts", "/contact_inboxes"))
        if creates_address and isinstance(source_id, str) and source_id.strip():
            body["source_id"] = _unique(source_id, 255)
        identifier = body.get("identifier")
        if isinstance(identifier, str) and identifier:
            body["identifier"] = _unique(identifier, 255)
        phone = body.get("phone_number")
        if isinstance(phone, str) and phone.startswith("+"):
            body["phone_number"] = f"+1{next(_counter):010d}"
        email = body.get("email")
        if isinstance(email, str) and email.count("@") == 1:
            local, domain = email.split("@")
            tag = f"u{next(_counter)}."
            if local and len(tag + local) <= 64 and len(tag + email) <= 254:
                body["email"] = f"{tag}{local}@{domain}"
        url = body.get("url")
        if isinstance(url, str) and url.startswith(("http://", "https://")) and "#" not in url:
            body["url"] = url + ("&" if "?" in url else "?") + f"fuzz={next(_counter)}"
    return case
