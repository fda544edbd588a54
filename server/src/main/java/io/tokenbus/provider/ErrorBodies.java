package io.tokenbus.provider;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;

/**
 * The message of an upstream's error body: OpenAI's and Anthropic's {@code error.message}, or the
 * raw text.
 */
final class ErrorBodies {

  private ErrorBodies() {}

  static String message(Buffer body) {
    String message = body.toString();
    try {
      JsonObject json = new JsonObject(body);
      if (json.getValue("error") instanceof JsonObject error
          && error.getString("message") != null) {
        message = error.getString("message");
      } else if (json.getValue("error") instanceof String text) {
        message = text;
      } else if (json.getValue("message") instanceof String text) {
        message = text;
      }
    } catch (DecodeException | ClassCastException e) {
      // not JSON: keep the raw text
    }
    return message;
  }
}
