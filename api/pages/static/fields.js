// The statement's fields as people read them: their order (the service's FIELD_NAMES, with the
// template details of DETAIL_NAMES beside the fields they go with) and their names in plain
// words, with a hint of the form each value takes.

export const FIELDS = [
  ["witness.name", "Witness's name", "Full name as stated"],
  ["witness.age", "Witness's age", "Years, a whole number"],
  ["witness.over_18", "Witness over 18", "Type “over 18” when that is all the witness said"],
  ["witness.date_of_birth", "Witness's date of birth", "YYYY-MM-DD"],
  ["witness.occupation", "Witness's occupation", ""],
  ["witness.address", "Witness's address", "Number, street, town (no postcode)"],
  ["witness.postcode", "Witness's postcode", "Such as CA3 8DA"],
  ["witness.phone", "Witness's phone", "Digits, such as 07700900123"],
  ["witness.email", "Witness's email", ""],
  ["incident.date", "Date of the incident", "YYYY-MM-DD"],
  ["incident.time", "Time of the incident", "24-hour HH:MM, such as 22:15"],
  ["incident.location", "Where it happened", "Street and town, or a named place"],
  ["missing.name", "Missing person's name", ""],
  ["missing.age", "Missing person's age", "Years, a whole number"],
  ["missing.last_seen_date", "Date last seen", "YYYY-MM-DD"],
  ["missing.last_seen_time", "Time last seen", "24-hour HH:MM"],
  ["missing.last_seen_location", "Where last seen", "Street and town, or a named place"],
  ["missing.clothing", "Clothing", "As stated"],
  ["missing.height", "Height (cm)", "Centimetres, a whole number"],
  ["missing.description", "Description", "Height, build, hair, complexion, marks, glasses"],
  ["missing.risk_factors", "Risk factors", "Illness, medication, vulnerability, as stated"],
];

export const FIELD_ORDER = FIELDS.map(([name]) => name);
const LABELS = Object.fromEntries(FIELDS.map(([name, label]) => [name, label]));
const HINTS = Object.fromEntries(FIELDS.map(([name, , hint]) => [name, hint]));

export function fieldLabel(name) {
  return LABELS[name] || name;
}

export function fieldHint(name) {
  return HINTS[name] || "";
}

/** How the input for a field should behave on a phone keyboard. */
export function inputMode(name) {
  if (["witness.age", "missing.age", "missing.height"].includes(name)) return "numeric";
  if (name === "witness.phone") return "tel";
  if (name === "witness.email") return "email";
  return "text";
}

export const FLAG_NAMES = {
  missing_required: "Missing",
  low_confidence: "Check: low confidence",
  safeguarding: "Safeguarding",
  no_speech: "No speech heard",
  interpreter_check: "Check with an interpreter",
};

export function flagName(kind) {
  return FLAG_NAMES[kind] || String(kind).replace(/_/g, " ");
}
