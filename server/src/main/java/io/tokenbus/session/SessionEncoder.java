package io.tokenbus.session;

import io.tokenbus.bus.Failure;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;

/**
 * Session events in their two wire forms: SSE ({@code id}, {@code event}, {@code data}) and
 * WebSocket frames.
 */
public final class SessionEncoder {

  private SessionEncoder() {}

  /**
   * The {@code data} of an event; a WebSocket frame is the same plus {@code type}, {@code session}
   * and {@code seq}.
   */
  public static JsonObject data(String session, SessionEvent event) {
    JsonObject data = new JsonObject();
    switch (event.type()) {
      case "message" -> data.put("message", message(event.message()));
      case "deleted" -> data.put("session", session);
      case "presence" -> data.put("author", event.author()).put("state", event.state());
      default -> {
        data.put("message_id", event.messageId()).put("generation", event.generation());
        if (event.text() != null) {
          data.put("text", event.text());
        }
        if (event.finishReason() != null) {
          data.put("finish_reason", event.finishReason());
        }
        if (event.failure() != null) {
          data.put("error", error(event.failure()));
        }
      }
    }
    return data;
  }

  static JsonObject error(Failure failure) {
    return new JsonObject()
        .put("message", failure.message())
        .put("type", failure.type())
        .put("code", failure.code());
  }

  public static JsonObject message(SessionMessage m) {
    JsonObject json =
        new JsonObject()
            .put("id", m.id())
            .put("role", m.role())
            .put("author", m.author())
            .put("content", m.content())
            .put("created", m.created());
    if (m.role().equals("assistant")) {
      json.put("generation", m.generation())
          .put("reply_to", m.replyTo())
          .put("status", m.status())
          .put("finish_reason", m.finishReason());
      if (m.error() != null) {
        json.put("error", m.error());
      }
    }
    return json;
  }

  /**
   * The session as {@code GET /v1/sessions/{id}} shows it, and as the {@code state} event gives it
   * to newcomers.
   */
  public static JsonObject view(SessionState.View view) {
    JsonArray messages = new JsonArray();
    view.messages().forEach(m -> messages.add(message(m)));
    return new JsonObject()
        .put("id", view.id())
        .put("object", "session")
        .put("tenant", view.tenant())
        .put("title", view.title())
        .put("model", view.model())
        .put("system", view.system())
        .put("created", view.created())
        .put("seq", view.seq())
        .put("participants", new JsonArray(List.copyOf(view.participants())))
        .put("answering", view.answering())
        .put("queued", view.queued())
        .put("messages", messages)
        .put(
            "urls",
            new JsonObject()
                .put("self", "/v1/sessions/" + view.id())
                .put("events", "/v1/sessions/" + view.id() + "/events")
                .put("messages", "/v1/sessions/" + view.id() + "/messages")
                .put("stop", "/v1/sessions/" + view.id() + "/stop")
                .put("share", "/?session=" + view.id()));
  }

  /**
   * An event in SSE; a passing one (seq 0: typing) has no {@code id}, so it never moves a client's
   * Last-Event-ID.
   */
  public static Buffer sse(String session, SessionEvent event) {
    return Buffer.buffer(
        (event.seq() > 0 ? "id: " + event.seq() + "\n" : "")
            + "event: "
            + event.type()
            + "\ndata: "
            + data(session, event).encode()
            + "\n\n");
  }

  public static String frame(String session, SessionEvent event) {
    JsonObject frame = new JsonObject().put("type", event.type()).put("session", session);
    if (event.seq() > 0) {
      frame.put("seq", event.seq());
    }
    return frame.mergeIn(data(session, event)).encode();
  }

  /** The first event a newcomer gets: the whole session at {@code view.seq()}. */
  public static Buffer sseState(SessionState.View view) {
    return Buffer.buffer(
        "id: "
            + view.seq()
            + "\nevent: state\ndata: "
            + new JsonObject().put("session", view(view)).encode()
            + "\n\n");
  }

  public static String frameState(SessionState.View view) {
    return new JsonObject()
        .put("type", "state")
        .put("session", view.id())
        .put("seq", view.seq())
        .put("state", view(view))
        .encode();
  }
}
