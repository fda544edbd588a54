package io.tokenbus.generation;

import io.tokenbus.bus.EventType;
import io.tokenbus.bus.Failure;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.bus.Usage;
import io.tokenbus.fanout.WebSocketFrames;
import io.tokenbus.fanout.WireFormat;
import io.tokenbus.provider.ChunkExtras;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * Turns one generation's events into the bytes of each {@link WireFormat}; this is where JSON meets
 * the core.
 */
public final class GenerationEncoder {

  private static final Buffer EMPTY = Buffer.buffer(0);
  private static final String DONE_LINE = "data: [DONE]\n\n";

  private final String id;
  private final String model;
  private final long created;

  public GenerationEncoder(GenerationInfo info) {
    this.id = info.id();
    this.model = info.model();
    this.created = info.created();
  }

  public Buffer encode(WireFormat format, GenerationEvent event) {
    return switch (format) {
      case SSE ->
          Buffer.buffer(
              "id: "
                  + event.seq()
                  + "\nevent: "
                  + event.type().wireName()
                  + "\ndata: "
                  + eventData(event).encode()
                  + "\n\n");
      case WEBSOCKET -> WebSocketFrames.text(frame(event).encode());
      case CHAT_CHUNKS -> Buffer.buffer(chat(event, false));
      case CHAT_CHUNKS_WITH_USAGE -> Buffer.buffer(chat(event, true));
      case SEED_SSE -> Buffer.buffer(seed(event, false));
      case SEED_JSON -> Buffer.buffer(seed(event, true));
      case RESPONSES -> Buffer.buffer(responses(event));
      case NONE -> EMPTY;
    };
  }

  /** The {@code data} of an SSE event (and the body of a WebSocket frame). */
  public static JsonObject eventData(GenerationEvent event) {
    JsonObject data = new JsonObject();
    switch (event.type()) {
      case DELTA -> data.put("text", event.text());
      case DONE ->
          data.put("finish_reason", event.finishReason()).put("usage", usage(event.usage()));
      case ERROR ->
          data.put("message", event.failure().message())
              .put("type", event.failure().type())
              .put("code", event.failure().code())
              .put("usage", usage(event.usage()));
      case CANCELLED -> data.put("usage", usage(event.usage()));
      case RESET ->
          data.put("message", event.failure().message()).put("code", event.failure().code());
      case TOOL_CALL -> data.put("tool_calls", toolCalls(event));
      case RECOVERY -> data.mergeIn(new JsonObject(event.data()));
    }
    return data;
  }

  /** The tool-call deltas of a tool_call event, as the upstream's chunk held them. */
  private static JsonArray toolCalls(GenerationEvent event) {
    JsonObject chunk = new JsonObject(event.data());
    JsonArray choices = chunk.getJsonArray("choices", new JsonArray());
    JsonObject delta =
        choices.isEmpty()
            ? new JsonObject()
            : choices.getJsonObject(0).getJsonObject("delta", new JsonObject());
    return delta.getJsonArray("tool_calls", new JsonArray());
  }

  /**
   * A WebSocket frame: the SSE data plus type, generation and seq; an error's own type becomes
   * {@code error_type}.
   */
  private JsonObject frame(GenerationEvent event) {
    JsonObject data = eventData(event);
    Object errorType = data.remove("type");
    if (errorType != null) {
      data.put("error_type", errorType);
    }
    return new JsonObject()
        .put("type", event.type().wireName())
        .put("generation", id)
        .put("seq", event.seq())
        .mergeIn(data);
  }

  public static JsonObject usage(Usage usage) {
    if (usage == null) {
      return null;
    }
    return new JsonObject()
        .put("prompt_tokens", usage.promptTokens())
        .put("completion_tokens", usage.completionTokens())
        .put("total_tokens", usage.totalTokens());
  }

  /** A {@code chat.completion.chunk} with one choice. */
  public JsonObject chunk(JsonObject delta, String finishReason) {
    JsonObject choice =
        new JsonObject()
            .put("index", 0)
            .put("delta", delta)
            .putNull("logprobs")
            .put("finish_reason", finishReason);
    return chunkBase().put("choices", new JsonArray().add(choice));
  }

  private JsonObject chunkBase() {
    return new JsonObject()
        .put("id", id)
        .put("object", "chat.completion.chunk")
        .put("created", created)
        .put("model", model);
  }

  /**
   * Chat Completions chunks. A delta or tool call whose upstream chunk carried more than text gets
   * it back, merged over tokenbus's chunk (see {@link ChunkExtras}). A reset cannot be said in this
   * format (text already sent cannot be taken back), so it ends the stream with an error; a
   * recovery is an SSE comment.
   */
  private String chat(GenerationEvent event, boolean withUsage) {
    return switch (event.type()) {
      case DELTA -> {
        JsonObject delta =
            event.text().isEmpty() && event.data() != null
                ? new JsonObject()
                : new JsonObject().put("content", event.text());
        JsonObject chunk = chunk(delta, null);
        yield "data: "
            + (event.data() == null
                    ? chunk
                    : ChunkExtras.merge(chunk, new JsonObject(event.data())))
                .encode()
            + "\n\n";
      }
      case TOOL_CALL ->
          "data: "
              + ChunkExtras.merge(chunk(new JsonObject(), null), new JsonObject(event.data()))
                  .encode()
              + "\n\n";
      case RESET ->
          "data: "
              + errorBody(
                      new Failure(
                          502,
                          "upstream_error",
                          "answer_restarted",
                          "The upstream failed mid-answer and "
                              + "the answer restarted (recovery strategy restart); text already streamed is void. Read the whole answer at "
                              + "/v1/generations/"
                              + id
                              + "/events. Cause: "
                              + event.failure().message()))
                  .encode()
              + "\n\n";
      case RECOVERY -> ": recovery " + event.text() + "\n\n";
      case DONE -> {
        String finish = "data: " + chunk(new JsonObject(), event.finishReason()).encode() + "\n\n";
        String usage =
            withUsage && event.usage() != null
                ? "data: "
                    + chunkBase()
                        .put("choices", new JsonArray())
                        .put("usage", usage(event.usage()))
                        .encode()
                    + "\n\n"
                : "";
        yield finish + usage + DONE_LINE;
      }
      case ERROR -> "data: " + errorBody(event.failure()).encode() + "\n\n";
      case CANCELLED ->
          "data: "
              + errorBody(
                      new Failure(
                          409,
                          "invalid_request_error",
                          "generation_cancelled",
                          "Generation " + id + " was cancelled"))
                  .encode()
              + "\n\n";
    };
  }

  /**
   * The Responses API's message item of this generation: one per response, named after it, so every
   * node names it alike.
   */
  public static String responseItemId(String generationId) {
    return "msg_" + generationId;
  }

  /** The Responses API's item of a function call: the {@code index}th of this generation. */
  public static String responseCallId(String generationId, int index) {
    return "fc_" + generationId + "_" + index;
  }

  /**
   * The Responses API's {@code sequence_number} of the {@code k}th stream event (0 to {@link
   * #RESPONSES_SLOTS} - 1) a generation event at {@code seq} gives: the four events before the
   * first delta are 0 to 3, each generation event has its slots after them, so the numbers only
   * grow whoever encodes them. The closing events count on from the terminal event's first slot.
   */
  public static long responsesSequence(long seq, int k) {
    return 4 + RESPONSES_SLOTS * (seq - 1) + Math.min(k, RESPONSES_SLOTS - 1);
  }

  /**
   * Stream events one generation event may give: a tool-call chunk may start calls and add to them.
   */
  public static final int RESPONSES_SLOTS = 8;

  /** One Responses API stream event: {@code event:} and {@code data:}, the type in both. */
  public static String responsesEvent(String type, long sequence, JsonObject fields) {
    JsonObject data = new JsonObject().put("type", type).put("sequence_number", sequence);
    fields.forEach(e -> data.put(e.getKey(), e.getValue()));
    return "event: " + type + "\ndata: " + data.encode() + "\n\n";
  }

  /**
   * A delta as {@code response.output_text.delta}; a tool-call chunk as {@code
   * response.output_item.added} for a call it starts and {@code
   * response.function_call_arguments.delta} for what it adds; everything else is the client's own.
   */
  private String responses(GenerationEvent event) {
    if (event.type() == EventType.DELTA && !event.text().isEmpty()) {
      return responsesEvent(
          "response.output_text.delta",
          responsesSequence(event.seq(), 0),
          new JsonObject()
              .put("item_id", responseItemId(id))
              .put("output_index", 0)
              .put("content_index", 0)
              .put("delta", event.text())
              .put("logprobs", new JsonArray()));
    }
    if (event.type() != EventType.TOOL_CALL) {
      return "";
    }
    StringBuilder out = new StringBuilder();
    int k = 0;
    for (Object d : toolCallDeltas(event.data())) {
      if (!(d instanceof JsonObject delta)) {
        continue;
      }
      int index = delta.getInteger("index", 0);
      JsonObject function = delta.getJsonObject("function", new JsonObject());
      if (delta.getString("id") != null) {
        out.append(
            responsesEvent(
                "response.output_item.added",
                responsesSequence(event.seq(), k++),
                new JsonObject()
                    .put("output_index", index + 1)
                    .put(
                        "item",
                        new JsonObject()
                            .put("type", "function_call")
                            .put("id", responseCallId(id, index))
                            .put("call_id", delta.getString("id"))
                            .put("name", function.getString("name", ""))
                            .put("arguments", "")
                            .put("status", "in_progress"))));
      }
      String arguments = function.getString("arguments", "");
      if (!arguments.isEmpty()) {
        out.append(
            responsesEvent(
                "response.function_call_arguments.delta",
                responsesSequence(event.seq(), k++),
                new JsonObject()
                    .put("item_id", responseCallId(id, index))
                    .put("output_index", index + 1)
                    .put("delta", arguments)));
      }
    }
    return out.toString();
  }

  /** The {@code tool_calls} deltas of an upstream's chunk, or none. */
  private static JsonArray toolCallDeltas(String chunk) {
    try {
      JsonArray choices = new JsonObject(chunk).getJsonArray("choices", new JsonArray());
      return choices.isEmpty()
          ? new JsonArray()
          : choices
              .getJsonObject(0)
              .getJsonObject("delta", new JsonObject())
              .getJsonArray("tool_calls", new JsonArray());
    } catch (RuntimeException e) {
      return new JsonArray();
    }
  }

  /**
   * The classic stream: a token as {@code data:} lines (one a line of it), or, {@code json}, as one
   * {@code data: {"token": "..."}} line.
   */
  private String seed(GenerationEvent event, boolean json) {
    return switch (event.type()) {
      case DELTA ->
          event.text().isEmpty()
              ? ""
              : json
                  ? "data: " + new JsonObject().put("token", event.text()).encode() + "\n\n"
                  : dataLines(event.text()) + "\n";
      case TOOL_CALL, RECOVERY -> "";
      case RESET -> "event: reset\ndata: " + eventData(event).encode() + "\n\n";
      case DONE -> DONE_LINE;
      case ERROR -> "event: error\ndata: " + eventData(event).encode() + "\n\n" + DONE_LINE;
      case CANCELLED -> "event: cancelled\ndata: " + eventData(event).encode() + "\n\n" + DONE_LINE;
    };
  }

  /**
   * One {@code data:} line per line of {@code text}, so an SSE reader rebuilds it exactly (line
   * breaks as LF).
   */
  static String dataLines(String text) {
    StringBuilder out = new StringBuilder(text.length() + 8);
    int start = 0;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '\n' || c == '\r') {
        out.append("data: ").append(text, start, i).append('\n');
        if (c == '\r' && i + 1 < text.length() && text.charAt(i + 1) == '\n') {
          i++;
        }
        start = i + 1;
      }
    }
    return out.append("data: ").append(text, start, text.length()).append('\n').toString();
  }

  /** OpenAI's error shape: {@code {"error": {"message", "type", "param", "code"}}}. */
  public static JsonObject errorBody(Failure failure) {
    return new JsonObject()
        .put(
            "error",
            new JsonObject()
                .put("message", failure.message())
                .put("type", failure.type())
                .putNull("param")
                .put("code", failure.code()));
  }
}
