package io.tokenbus.support;

import io.vertx.core.json.JsonObject;
import java.util.List;

/** One Server-Sent Event as a client sees it. */
public record SseEvent(String id, String event, String data) {

  public JsonObject json() {
    return new JsonObject(data);
  }

  public long seq() {
    return Long.parseLong(id);
  }

  /**
   * The text of the {@code delta} events, in order, as a client builds it: a {@code reset} starts
   * it over.
   */
  public static String text(List<SseEvent> events) {
    StringBuilder text = new StringBuilder();
    for (SseEvent e : events) {
      if (e.event().equals("delta")) {
        text.append(e.json().getString("text"));
      } else if (e.event().equals("reset")) {
        text.setLength(0);
      }
    }
    return text.toString();
  }

  public boolean terminal() {
    return event.equals("done") || event.equals("error") || event.equals("cancelled");
  }
}
