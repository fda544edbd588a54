package io.tokenbus.provider;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * What an upstream {@code chat.completion.chunk} carries beyond what tokenbus writes itself (id,
 * object, created, model, the content text, the finish reason): tool calls, logprobs, refusals,
 * reasoning fields, {@code system_fingerprint}, anything a server adds. Kept as a sparse chunk that
 * the Chat Completions encoder merges back into the chunk it writes, so those fields reach clients
 * unchanged.
 */
public final class ChunkExtras {

  private ChunkExtras() {}

  /**
   * The extras of {@code chunk}'s first choice and of the chunk itself, or null when it has none.
   */
  static JsonObject of(JsonObject chunk) {
    JsonObject extras = chunk.copy();
    extras.remove("id");
    extras.remove("object");
    extras.remove("created");
    extras.remove("model");
    extras.remove(
        "obfuscation"); // OpenAI's random per-chunk padding: meaningless once tokenbus re-chunks
    // the stream
    if (extras.getValue("usage") == null) {
      extras.remove("usage");
    }
    if (extras.getValue("choices") instanceof JsonArray choices
        && !choices.isEmpty()
        && choices.getValue(0) instanceof JsonObject first) {
      JsonObject choice = first.copy();
      choice.remove("index");
      choice.remove("finish_reason");
      if (choice.getValue("logprobs") == null) {
        choice.remove("logprobs");
      }
      if (choice.getValue("delta") instanceof JsonObject d) {
        JsonObject delta = d.copy();
        delta.remove("content");
        delta.remove("role");
        if (delta.getValue("refusal") == null) {
          delta.remove("refusal");
        }
        if (delta.isEmpty()) {
          choice.remove("delta");
        } else {
          choice.put("delta", delta);
        }
      }
      if (choice.isEmpty()) {
        extras.remove("choices");
      } else {
        extras.put("choices", new JsonArray().add(choice));
      }
    } else {
      extras.remove("choices");
    }
    return extras.isEmpty() ? null : extras;
  }

  /**
   * True when the extras say something about the answer itself (tool calls, logprobs, reasoning),
   * not only about the chunk (system_fingerprint, service_tier): such a chunk is worth an event
   * even without text.
   */
  static boolean aboutTheAnswer(JsonObject extras) {
    return extras != null
        && extras.getValue("choices") instanceof JsonArray choices
        && !choices.isEmpty();
  }

  /**
   * Merges {@code extras} into {@code chunk}: objects field by field, the first choice into the
   * first choice, any other value replacing the chunk's.
   */
  public static JsonObject merge(JsonObject chunk, JsonObject extras) {
    for (String key : extras.fieldNames()) {
      Object value = extras.getValue(key);
      Object existing = chunk.getValue(key);
      if (value instanceof JsonObject v && existing instanceof JsonObject e) {
        merge(e, v);
      } else if (key.equals("choices")
          && value instanceof JsonArray v
          && existing instanceof JsonArray e
          && !v.isEmpty()
          && !e.isEmpty()
          && v.getValue(0) instanceof JsonObject vc
          && e.getValue(0) instanceof JsonObject ec) {
        merge(ec, vc);
      } else {
        chunk.put(key, value);
      }
    }
    return chunk;
  }
}
