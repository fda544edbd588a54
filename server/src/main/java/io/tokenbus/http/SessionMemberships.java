package io.tokenbus.http;

import io.tokenbus.auth.Principal;
import io.tokenbus.bus.Failure;
import io.tokenbus.fanout.Viewer;
import io.tokenbus.fanout.WireFormat;
import io.tokenbus.session.SessionEvent;
import io.tokenbus.session.Sessions;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;

/**
 * The chat sessions one WebSocket has joined ({@code join}, {@code leave}, {@code typing}): each is
 * a {@link Viewer} of the session over the socket's writer, and its author is present while the
 * socket is open. Touched only from the socket's event loop.
 */
final class SessionMemberships {

  private static final String KIND = "session";

  private final WebSocketConnection connection;
  private final Sessions sessions;
  private final Streams streams;
  private final Map<String, Membership> joined = new HashMap<>();

  SessionMemberships(WebSocketConnection connection, Sessions sessions, Streams streams) {
    this.connection = connection;
    this.sessions = sessions;
    this.streams = streams;
  }

  /** Slots taken: sessions joined, or being joined. */
  int count() {
    return joined.size();
  }

  /**
   * {@code {"type": "join", "session", "author", "after"}}: follows a chat session (the state first
   * without {@code after}), present as {@code author} while the socket is open; without an author
   * (and for a JWT without a user), only watching.
   */
  void join(JsonObject frame) {
    if (!(frame.getValue("session") instanceof String session) || session.isBlank()) {
      connection.error(null, null, "invalid_frame", "'join' needs a string 'session'");
      return;
    }
    String name;
    long after;
    try {
      Principal caller = connection.caller();
      name =
          frame.getValue("author") == null && caller.subject() == null
              ? null
              : Participants.author(caller, frame.getValue("author"));
      if (joined.containsKey(session)) {
        throw new ApiException(
            Failure.invalidRequest(
                "already_joined", "This socket has already joined session '" + session + "'"));
      }
      Long cursor = Cursors.parse(frame.getValue("after"), "after");
      after = cursor == null ? -1 : cursor;
    } catch (ApiException e) {
      connection.error(KIND, session, e.failure().code(), e.getMessage());
      return;
    }
    if (connection.full(KIND, session)) {
      return;
    }
    Membership membership = new Membership(session);
    joined.put(session, membership);
    Future<Void> admitted;
    try {
      admitted = Participants.admit(sessions, connection.caller(), session, after, name);
    } catch (ApiException e) {
      joined.remove(session, membership);
      connection.error(KIND, session, e.failure().code(), e.getMessage());
      return;
    }
    admitted.onComplete(
        ar -> {
          if (ar.failed()) {
            joined.remove(session, membership);
            connection.error(
                KIND,
                session,
                ar.cause() instanceof ApiException e ? e.failure().code() : "internal_error",
                ar.cause().getMessage());
            return;
          }
          if (connection.closed() || joined.get(session) != membership) {
            if (name != null) {
              sessions.leave(session, name);
            }
            return;
          }
          membership.start(name, after);
        });
  }

  /** {@code {"type": "leave", "session"}}. */
  void leave(JsonObject frame) {
    if (frame.getValue("session") instanceof String session && joined.containsKey(session)) {
      leave(session);
    } else {
      connection.error(
          null,
          null,
          "invalid_frame",
          "'leave' needs the 'session' of a session this socket joined");
    }
  }

  /**
   * {@code {"type": "typing", "session"}}: only someone present can be typing (which a view token
   * never is: its join is refused a name).
   */
  void typing(JsonObject frame) {
    if (frame.getValue("session") instanceof String session
        && joined.containsKey(session)
        && joined.get(session).name != null) {
      sessions.typing(session, joined.get(session).name);
    } else {
      connection.error(
          null,
          null,
          "invalid_frame",
          "'typing' needs the 'session' of a session this socket joined");
    }
  }

  /** The socket closed. */
  void leaveAll() {
    new ArrayList<>(joined.keySet()).forEach(this::leave);
  }

  private void leave(String session) {
    Membership membership = joined.remove(session);
    if (membership != null) {
      membership.stop();
    }
  }

  /**
   * One joined session: its viewer over this socket, and the name its author is present under (null
   * until they are).
   */
  private final class Membership extends WriterOutput<SessionEvent> {
    private final String session;
    private Viewer<SessionEvent> viewer;
    private String name;

    Membership(String session) {
      super(connection.writer(), WireFormat.WEBSOCKET);
      this.session = session;
    }

    void start(String author, long after) {
      name = author;
      viewer = streams.session(session, after, this);
      viewer.start();
    }

    void stop() {
      if (viewer != null) {
        viewer.close();
      }
      if (name != null) {
        sessions.leave(session, name);
      }
    }

    @Override
    public void end() {
      leave(session); // the session was deleted: its frame said so
    }

    @Override
    public void stalled() {
      leave(session);
      connection.closeStalled();
    }

    @Override
    public void lost(String reason) {
      leave(session);
      connection.error(
          KIND, session, "session_lost", "Stopped following session '" + session + "': " + reason);
    }
  }
}
