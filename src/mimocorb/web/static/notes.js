// The notes of a run on the page: the list, and the box that adds a note (the logbook of the lab).
// The live dashboard shows the notes of its run (app.js sends "mimocorb:live"), the run browser those of
// the run it shows ("mimocorb:run"). Adding a note needs the access token, sent as a header as commands
// are; the notes are set as text, never as markup.
"use strict";

const NOTES_EVERY = 5000; // ms between two looks for notes written elsewhere (mimocorb note) during a live run

function notesToken() {
  return sessionStorage.getItem("mimocorb-token");
}

function notesElement(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

// The box of one run: its notes and the form; `run` is the run's id, null for the live run.
function notesBox(holder, run) {
  const list = notesElement("ul", undefined, "notes");
  const text = notesElement("textarea");
  text.id = holder.id + "-text";
  text.rows = 2;
  text.placeholder = "a note for the logbook of this run";
  const tags = notesElement("input");
  tags.id = holder.id + "-tags";
  tags.placeholder = "tags";
  tags.size = 16;
  const add = notesElement("button", "Add note");
  add.id = holder.id + "-add";
  const result = notesElement("span", "", "muted");
  result.id = holder.id + "-result";
  const form = notesElement("div", undefined, "note-form");
  form.append(text, tags, add, result);
  holder.replaceChildren(notesElement("h3", "Notes"), list, form);
  const query = run === null ? "" : "?run=" + encodeURIComponent(run);
  const load = () => loadNotes(list, "/api/notes" + query);
  add.addEventListener("click", async () => {
    const words = tags.value.split(/[\s,]+/).filter((t) => t);
    if (await sendNote(result, { text: text.value, tags: words, run })) {
      text.value = "";
      tags.value = "";
      await load();
    }
  });
  return load;
}

async function loadNotes(list, url) {
  const token = notesToken();
  const response = await fetch(url, { headers: token ? { Authorization: "Bearer " + token } : {} });
  if (!response.ok) return;
  const notes = await response.json();
  if (list.dataset.count === String(notes.length)) return; // notes are only ever added
  list.dataset.count = String(notes.length);
  list.replaceChildren(
    ...notes.map((note) => {
      const item = notesElement("li");
      const tags = note.tags.map((t) => " #" + t).join("");
      item.append(notesElement("div", note.time.replace("T", " ") + " [" + note.source + "]" + tags, "muted"));
      item.append(notesElement("div", note.text, "note-text"));
      return item;
    }),
  );
  if (!notes.length) list.append(notesElement("li", "no notes yet", "muted"));
}

async function sendNote(result, note) {
  const token = notesToken();
  if (!token) {
    result.textContent = "an access token is needed (the URL printed by mimocorb carries it)";
    return false;
  }
  result.textContent = "…";
  try {
    const response = await fetch("/api/note", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + token },
      body: JSON.stringify(note),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      result.textContent = "not added: " + (body.detail || response.status);
      return false;
    }
    result.textContent = "note added at " + body.time.replace("T", " ");
    return true;
  } catch (error) {
    result.textContent = "not added: " + error.message;
    return false;
  }
}

document.addEventListener("mimocorb:live", (event) => {
  if (!event.detail.notes) return; // a run without a run directory keeps no notes
  const load = notesBox(document.getElementById("live-notes"), null);
  load().catch(() => {});
  window.setInterval(() => {
    if (!document.hidden) load().catch(() => {});
  }, NOTES_EVERY);
});

document.addEventListener("mimocorb:run", (event) => {
  if (event.detail.live) return; // the live run's notes are in the box above
  notesBox(document.getElementById("run-notes"), event.detail.id)().catch(() => {});
});
