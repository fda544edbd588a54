package io.tokenbus.http;

import io.tokenbus.auth.Principal;
import io.tokenbus.session.Sessions;
import io.vertx.core.Future;

/**
 * Who may follow a chat session, wherever they ask (its SSE stream or a WebSocket {@code join}):
 * what a participant's name may be, and the checks before a viewer starts.
 */
final class Participants {

  private Participants() {}

  /**
   * A display name: 1 to 64 characters, no control characters; returned trimmed. Anything else is a
   * 400.
   */
  static String author(Object value) {
    if (!(value instanceof String name)
        || name.isBlank()
        || name.length() > 64
        || name.chars().anyMatch(Character::isISOControl)) {
      throw ApiException.badRequest(
          "invalid_author",
          "'author' (a display name) is required: 1 to 64 characters, no control " + "characters",
          "author");
    }
    return name.trim();
  }

  /**
   * The name {@code caller} posts, types or is present as: the user a JWT was minted for, who may
   * not speak as anyone else; otherwise the name they give, checked as {@link #author(Object)}.
   */
  static String author(Principal caller, Object given) {
    return caller.subject() != null ? caller.subject() : author(given);
  }

  /**
   * Admits a viewer of session {@code id} from cursor {@code after} (-1: a newcomer), present as
   * {@code author} (null: watching only), for {@code caller}. Throws or fails with the {@link
   * ApiException} to show when the caller may not read the session or be present in it (403), the
   * session does not exist or is not the caller's (404 alike), the cursor is beyond its last event,
   * or the author may not join.
   */
  static Future<Void> admit(
      Sessions sessions, Principal caller, String id, long after, String author) {
    Access.SessionNeed need =
        author == null ? Access.SessionNeed.READ : Access.SessionNeed.TAKE_PART;
    Access.mayUseSessions(caller, need);
    return sessions
        .view(id)
        .compose(
            view -> {
              if (view == null || !Access.reaches(caller, id, view.tenant())) {
                return Future.failedFuture(Access.sessionNotFound(id));
              }
              if (after > view.seq()) {
                return Future.failedFuture(
                    ApiException.badRequest(
                        "invalid_cursor",
                        "The session has no event "
                            + after
                            + " yet (its last is "
                            + view.seq()
                            + ")",
                        "after"));
              }
              return author == null
                  ? Future.succeededFuture()
                  : sessions
                      .presence(id, author, 1)
                      .compose(
                          refused ->
                              refused == null
                                  ? Future.<Void>succeededFuture()
                                  : Future.failedFuture(new ApiException(refused)));
            });
  }
}
