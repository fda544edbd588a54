package io.tokenbus.generation;

import io.tokenbus.bus.EventType;
import io.tokenbus.bus.GenerationEvent;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import java.util.TreeMap;

/**
 * Builds a non-streaming message's {@code tool_calls} from streamed tool-call deltas, as the OpenAI
 * SDKs do: by index, the first delta brings id, type and name, later ones append to the arguments.
 * A {@code reset} voids what came before it.
 */
public final class ToolCallAssembler {

  private final Map<Integer, JsonObject> calls = new TreeMap<>();

  public void add(GenerationEvent event) {
    if (event.type() == EventType.RESET) {
      calls.clear();
      return;
    }
    if (event.type() != EventType.TOOL_CALL) {
      return;
    }
    JsonArray choices = new JsonObject(event.data()).getJsonArray("choices", new JsonArray());
    if (choices.isEmpty()) {
      return;
    }
    JsonArray deltas =
        choices
            .getJsonObject(0)
            .getJsonObject("delta", new JsonObject())
            .getJsonArray("tool_calls", new JsonArray());
    for (Object d : deltas) {
      JsonObject delta = (JsonObject) d;
      JsonObject call =
          calls.computeIfAbsent(
              delta.getInteger("index", 0),
              i ->
                  new JsonObject()
                      .put("type", "function")
                      .put("function", new JsonObject().put("arguments", "")));
      if (delta.getString("id") != null) {
        call.put("id", delta.getString("id"));
      }
      if (delta.getString("type") != null) {
        call.put("type", delta.getString("type"));
      }
      JsonObject function = delta.getJsonObject("function", new JsonObject());
      JsonObject target = call.getJsonObject("function");
      if (function.getString("name") != null) {
        target.put("name", function.getString("name"));
      }
      target.put("arguments", target.getString("arguments") + function.getString("arguments", ""));
    }
  }

  public JsonArray result() {
    JsonArray result = new JsonArray();
    calls
        .values()
        .forEach(
            call ->
                result.add(
                    new JsonObject()
                        .put("id", call.getString("id"))
                        .put("type", call.getString("type"))
                        .put(
                            "function",
                            new JsonObject()
                                .put("name", call.getJsonObject("function").getString("name"))
                                .put(
                                    "arguments",
                                    call.getJsonObject("function").getString("arguments")))));
    return result;
  }
}
