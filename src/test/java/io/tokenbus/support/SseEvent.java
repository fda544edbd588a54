package io.tokenbus.support;

import io.vertx.core.json.JsonObject;

/** One Server-Sent Event as a client sees it. */
public record SseEvent(String id, String event, String data) {

  public JsonObject json() {
    return new JsonObject(data);
  }

  public long seq() {
    return Long.parseLong(id);
  }

  public boolean terminal() {
    return event.equals("done") || event.equals("error") || event.equals("cancelled");
  }
}
