// The chats this browser has opened, so a person can come back to one: one localStorage key, a JSON
// array of {id, title, token, role, opened}, newest first, one entry per session, at most 50.
// An entry keeps the token this browser used for the session, so this key is as private as the
// links themselves: the token stays here and in the page's URL fragment, never in a query string,
// a request line or a log.
const KEY = 'tokenbus.recent';
const MAX = 50;

// What a token lets its holder do, strongest first: reopening a chat keeps the strongest token this
// browser has had for it (an owner who opens their own read-only link stays the owner).
const RANK = { owner: 3, participant: 2, viewer: 1 };

const valid = entry => entry && typeof entry.id === 'string' && entry.id !== ''
  && Number.isFinite(entry.opened);

/** The entries, newest first; a missing or unreadable key is an empty list. */
export function recentChats() {
  try {
    const parsed = JSON.parse(localStorage.getItem(KEY) ?? '[]');
    return Array.isArray(parsed)
      ? parsed.filter(valid).map(e => ({
        id: e.id,
        title: typeof e.title === 'string' ? e.title : '',
        token: typeof e.token === 'string' && e.token !== '' ? e.token : null,
        role: typeof e.role === 'string' ? e.role : null,
        opened: e.opened,
      }))
      : [];
  } catch {
    return [];
  }
}

function save(entries) {
  const unique = new Map();
  for (const entry of [...entries].sort((a, b) => b.opened - a.opened)) {
    if (!unique.has(entry.id)) unique.set(entry.id, entry);
  }
  try {
    localStorage.setItem(KEY, JSON.stringify([...unique.values()].slice(0, MAX)));
  } catch {
    // storage full or disabled: the list is a convenience, the chat works without it
  }
}

/**
 * Notes that this browser opened session {@code id} now, with {@code token} and {@code role} (null
 * with auth off); a title that is not blank replaces the one kept.
 */
export function rememberChat({ id, title, token, role }) {
  const entries = recentChats();
  const known = entries.find(e => e.id === id);
  const stronger = known && (RANK[known.role] ?? 0) > (RANK[role] ?? 0) && known.token;
  save([{
    id,
    title: title?.trim() ? title.trim() : known?.title ?? '',
    token: stronger ? known.token : token ?? null,
    role: stronger ? known.role : role ?? null,
    opened: Date.now(),
  }, ...entries.filter(e => e.id !== id)]);
}

/** Sets the title kept for {@code id}, if it is listed, without marking it opened. */
export function retitleChat(id, title) {
  if (!title?.trim()) return;
  const entries = recentChats();
  const known = entries.find(e => e.id === id);
  if (known && known.title !== title.trim()) {
    known.title = title.trim();
    save(entries);
  }
}

/** Removes {@code id} from the list. */
export function forgetChat(id) {
  save(recentChats().filter(e => e.id !== id));
}

/** Where an entry reopens: the chat page, its token in the fragment (none with auth off). */
export function chatUrl(entry) {
  const path = `/?session=${encodeURIComponent(entry.id)}`;
  return entry.token ? `${path}#token=${encodeURIComponent(entry.token)}` : path;
}

/** Fires {@code listener} when another tab changes the list. */
export function onRecentChange(listener) {
  addEventListener('storage', event => {
    if (event.key === KEY || event.key === null) listener();
  });
}
