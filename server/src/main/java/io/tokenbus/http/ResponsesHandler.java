package io.tokenbus.http;

import io.tokenbus.auth.Principal;
import io.tokenbus.auth.Scope;
import io.tokenbus.bus.EventType;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.fanout.Viewer;
import io.tokenbus.fanout.WireFormat;
import io.tokenbus.generation.GenerationEncoder;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.GenerationSnapshot;
import io.tokenbus.generation.GenerationStore;
import io.tokenbus.generation.ToolCallAssembler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

/**
 * {@code POST /v1/responses}: OpenAI's Responses API over the same generations as chat completions.
 * The request becomes a chat-completions request (instructions as a system message, {@code input}
 * as the messages, {@code max_output_tokens} as {@code max_tokens}); the response's id is the
 * generation's, so its answer can be watched, resumed and cancelled like any other. A stream is the
 * Responses API's events: {@code response.created}, {@code response.in_progress}, {@code
 * response.output_item.added}, {@code response.content_part.added}, one {@code
 * response.output_text.delta} per delta (encoded once per node), then {@code
 * response.output_text.done}, {@code response.content_part.done}, {@code response.output_item.done}
 * and {@code response.completed} (or {@code response.failed}), each with its {@code
 * sequence_number}. Tools and {@code previous_response_id} are not served yet.
 */
final class ResponsesHandler {

  private final GenerationClient generations;
  private final GenerationStore store;
  private final Streams streams;

  ResponsesHandler(GenerationClient generations, GenerationStore store, Streams streams) {
    this.generations = generations;
    this.store = store;
    this.streams = streams;
  }

  void handle(RoutingContext ctx) {
    Principal caller = Access.caller(ctx);
    Access.mayStart(caller, Scope.GENERATE, "start generations");
    JsonObject body = ChatRequests.json(ctx.body().buffer());
    ResponseJson.Echo echo = ResponseJson.Echo.of(body);
    JsonObject chat = chatBody(body);
    GenerationRequest request = ChatRequests.parse(chat, caller.creator());
    boolean stream = Boolean.TRUE.equals(body.getValue("stream"));
    generations
        .start(request, AccessLog.receivedAt(ctx))
        .onSuccess(
            info -> {
              HttpServerResponse response = ctx.response().putHeader("X-Generation-Id", info.id());
              if (stream) {
                StreamOutput output = new StreamOutput(streams, ctx, info, echo);
                output.watch(streams.generation(info, 0, false, output));
              } else if (!response.closed()) {
                Viewer<GenerationEvent> viewer =
                    streams.generation(
                        info, 0, false, new WholeOutput(response, store, info, echo));
                response.closeHandler(v -> viewer.close());
                viewer.start();
              }
            })
        .onFailure(ctx::fail);
  }

  /** The chat-completions request a Responses request stands for; a 400 for what it cannot. */
  static JsonObject chatBody(JsonObject body) {
    for (String unsupported : new String[] {"previous_response_id", "conversation"}) {
      Object value = body.getValue(unsupported);
      if (value != null && !(value instanceof JsonArray array && array.isEmpty())) {
        throw ApiException.badRequest(
            "unsupported_parameter",
            "'" + unsupported + "' is not supported by tokenbus's Responses API yet",
            unsupported);
      }
    }
    JsonArray messages = new JsonArray();
    Object instructions = body.getValue("instructions");
    if (instructions != null) {
      if (!(instructions instanceof String text)) {
        throw ApiException.badRequest(
            "invalid_instructions", "'instructions' must be a string", "instructions");
      }
      messages.add(new JsonObject().put("role", "system").put("content", text));
    }
    Object input = body.getValue("input");
    if (input instanceof String text) {
      messages.add(new JsonObject().put("role", "user").put("content", text));
    } else if (input instanceof JsonArray items && !items.isEmpty()) {
      for (int i = 0; i < items.size(); i++) {
        Object item = items.getValue(i);
        String type = item instanceof JsonObject o ? o.getString("type", "message") : "message";
        switch (type) {
          case "function_call" -> functionCall((JsonObject) item, i, messages);
          case "function_call_output" -> messages.add(functionOutput((JsonObject) item, i));
          default -> messages.add(message(item, i));
        }
      }
    } else {
      throw ApiException.badRequest(
          "invalid_input",
          "'input' is required: a string or a non-empty array of messages",
          "input");
    }
    JsonObject chat =
        new JsonObject().put("model", body.getValue("model")).put("messages", messages);
    tools(body, chat);
    for (String kept : new String[] {"temperature", "top_p", "metadata", "store", "user"}) {
      if (body.getValue(kept) != null) {
        chat.put(kept, body.getValue(kept));
      }
    }
    if (body.getValue("max_output_tokens") != null) {
      chat.put("max_tokens", body.getValue("max_output_tokens"));
    }
    if (body.getValue("mock_tokens_per_second") != null) {
      chat.put("mock_tokens_per_second", body.getValue("mock_tokens_per_second"));
    }
    return chat;
  }

  /**
   * Function tools as chat tools ({@code {type, name, description, parameters, strict}} to {@code
   * {type: function, function: {...}}}), {@code tool_choice} and {@code parallel_tool_calls}; any
   * other kind of tool (the hosted ones) is a 400.
   */
  private static void tools(JsonObject body, JsonObject chat) {
    Object tools = body.getValue("tools");
    if (tools == null) {
      return;
    }
    if (!(tools instanceof JsonArray list)) {
      throw ApiException.badRequest("invalid_tools", "'tools' must be an array", "tools");
    }
    JsonArray chatTools = new JsonArray();
    for (int i = 0; i < list.size(); i++) {
      if (!(list.getValue(i) instanceof JsonObject tool)
          || !"function".equals(tool.getString("type"))
          || !(tool.getValue("name") instanceof String name)) {
        throw ApiException.badRequest(
            "unsupported_parameter",
            "tools["
                + i
                + "] must be a function tool with a 'name': tokenbus serves no hosted tools",
            "tools");
      }
      JsonObject function = new JsonObject().put("name", name);
      for (String key : new String[] {"description", "parameters", "strict"}) {
        if (tool.getValue(key) != null) {
          function.put(key, tool.getValue(key));
        }
      }
      chatTools.add(new JsonObject().put("type", "function").put("function", function));
    }
    if (!chatTools.isEmpty()) {
      chat.put("tools", chatTools);
    }
    Object choice = body.getValue("tool_choice");
    if (choice instanceof String mode) {
      chat.put("tool_choice", mode);
    } else if (choice instanceof JsonObject forced && forced.getValue("name") instanceof String n) {
      chat.put(
          "tool_choice",
          new JsonObject()
              .put("type", "function")
              .put("function", new JsonObject().put("name", n)));
    }
    if (body.getValue("parallel_tool_calls") instanceof Boolean parallel) {
      chat.put("parallel_tool_calls", parallel);
    }
  }

  /**
   * A {@code function_call} item (the model's call, sent back): a tool call of the assistant
   * message before it, or of a new one.
   */
  private static void functionCall(JsonObject item, int index, JsonArray messages) {
    if (!(item.getValue("call_id") instanceof String callId)
        || !(item.getValue("name") instanceof String name)) {
      throw ApiException.badRequest(
          "invalid_input", "input[" + index + "] must have a 'call_id' and a 'name'", "input");
    }
    JsonObject call =
        new JsonObject()
            .put("id", callId)
            .put("type", "function")
            .put(
                "function",
                new JsonObject()
                    .put("name", name)
                    .put("arguments", item.getString("arguments", "")));
    JsonObject last = messages.isEmpty() ? null : messages.getJsonObject(messages.size() - 1);
    if (last != null
        && "assistant".equals(last.getString("role"))
        && last.containsKey("tool_calls")) {
      last.getJsonArray("tool_calls").add(call);
    } else {
      messages.add(
          new JsonObject()
              .put("role", "assistant")
              .putNull("content")
              .put("tool_calls", new JsonArray().add(call)));
    }
  }

  /** A {@code function_call_output} item: the tool's answer, as a {@code tool} message. */
  private static JsonObject functionOutput(JsonObject item, int index) {
    if (!(item.getValue("call_id") instanceof String callId)
        || !(item.getValue("output") instanceof String output)) {
      throw ApiException.badRequest(
          "invalid_input",
          "input[" + index + "] must have a 'call_id' and a string 'output'",
          "input");
    }
    return new JsonObject().put("role", "tool").put("tool_call_id", callId).put("content", output);
  }

  /** An {@code input} item: a message, its content a string or {@code input_text} parts. */
  private static JsonObject message(Object item, int index) {
    String where = "input[" + index + "]";
    if (!(item instanceof JsonObject message)
        || !(message.getValue("role") instanceof String role)
        || !(message.getString("type", "message").equals("message"))) {
      throw ApiException.badRequest(
          "invalid_input",
          where + " must be a message: an object with 'role' and 'content'",
          "input");
    }
    String chatRole =
        switch (role) {
          case "user", "assistant", "system" -> role;
          case "developer" -> "system";
          default ->
              throw ApiException.badRequest(
                  "invalid_input", where + ".role '" + role + "' is not a message role", "input");
        };
    Object content = message.getValue("content");
    if (content instanceof String text) {
      return new JsonObject().put("role", chatRole).put("content", text);
    }
    if (content instanceof JsonArray parts) {
      StringBuilder text = new StringBuilder();
      for (int p = 0; p < parts.size(); p++) {
        if (!(parts.getValue(p) instanceof JsonObject part)
            || !(part.getValue("text") instanceof String piece)
            || !("input_text".equals(part.getString("type"))
                || "output_text".equals(part.getString("type")))) {
          throw ApiException.badRequest(
              "invalid_input",
              where + ".content[" + p + "] must be an input_text or output_text part",
              "input");
        }
        text.append(piece);
      }
      return new JsonObject().put("role", chatRole).put("content", text.toString());
    }
    throw ApiException.badRequest(
        "invalid_input", where + ".content must be a string or an array of parts", "input");
  }

  /** A streamed response: the events around the deltas are this client's, the deltas shared. */
  private static final class StreamOutput extends AnswerStreamOutput {
    private final ResponseJson.Echo echo;
    private final StringBuilder text = new StringBuilder();
    private final ToolCallAssembler calls = new ToolCallAssembler();
    private GenerationEvent terminal;

    StreamOutput(Streams streams, RoutingContext ctx, GenerationInfo info, ResponseJson.Echo echo) {
      super(streams, ctx, WireFormat.RESPONSES, info);
      this.echo = echo;
    }

    private void event(String type, long sequence, JsonObject fields) {
      response.write(Buffer.buffer(GenerationEncoder.responsesEvent(type, sequence, fields)));
    }

    @Override
    void opened() {
      JsonObject inProgress = ResponseJson.response(info, echo, "in_progress", null, null);
      event("response.created", 0, new JsonObject().put("response", inProgress));
      event("response.in_progress", 1, new JsonObject().put("response", inProgress));
      event(
          "response.output_item.added",
          2,
          new JsonObject()
              .put("output_index", 0)
              .put("item", ResponseJson.message(info.id(), "in_progress", "")));
      event(
          "response.content_part.added",
          3,
          new JsonObject()
              .put("item_id", GenerationEncoder.responseItemId(info.id()))
              .put("output_index", 0)
              .put("content_index", 0)
              .put("part", ResponseJson.text("")));
    }

    @Override
    void seen(GenerationEvent event) {
      calls.add(event);
      if (event.type() == EventType.DELTA) {
        text.append(event.text());
      } else if (event.terminal()) {
        terminal = event;
      }
    }

    /** The stream ends with an error event saying so. */
    @Override
    void restartedAt(GenerationEvent reset) {
      event(
          "error",
          GenerationEncoder.responsesSequence(reset.seq(), 0),
          new JsonObject()
              .put("code", "answer_restarted")
              .put("message", "The answer restarted; its text so far is void")
              .putNull("param"));
    }

    @Override
    void closing() {
      if (terminal == null) {
        return;
      }
      long next = GenerationEncoder.responsesSequence(terminal.seq(), 0);
      String id = GenerationEncoder.responseItemId(info.id());
      String whole = text.toString();
      JsonArray toolCalls = calls.result();
      GenerationSnapshot ended = new LogFoldOf(info, whole, terminal).snapshot();
      if (terminal.type() == EventType.DONE) {
        event(
            "response.output_text.done",
            next++,
            new JsonObject()
                .put("item_id", id)
                .put("output_index", 0)
                .put("content_index", 0)
                .put("text", whole)
                .put("logprobs", new JsonArray()));
        event(
            "response.content_part.done",
            next++,
            new JsonObject()
                .put("item_id", id)
                .put("output_index", 0)
                .put("content_index", 0)
                .put("part", ResponseJson.text(whole)));
        event(
            "response.output_item.done",
            next++,
            new JsonObject()
                .put("output_index", 0)
                .put("item", ResponseJson.message(info.id(), "completed", whole)));
        for (int i = 0; i < toolCalls.size(); i++) {
          JsonObject item = ResponseJson.functionCall(info.id(), i, toolCalls.getJsonObject(i));
          event(
              "response.function_call_arguments.done",
              next++,
              new JsonObject()
                  .put("item_id", item.getString("id"))
                  .put("output_index", i + 1)
                  .put("arguments", item.getString("arguments")));
          event(
              "response.output_item.done",
              next++,
              new JsonObject().put("output_index", i + 1).put("item", item));
        }
        JsonObject completed = ResponseJson.finished(info, echo, ended, toolCalls, true);
        event(
            completed.getString("status").equals("incomplete")
                ? "response.incomplete"
                : "response.completed",
            next,
            new JsonObject().put("response", completed));
      } else {
        event(
            "response.failed",
            next,
            new JsonObject()
                .put("response", ResponseJson.finished(info, echo, ended, toolCalls, true)));
      }
    }
  }

  /** A snapshot of the text a client saw and the terminal event, for the closing events. */
  private record LogFoldOf(GenerationInfo info, String text, GenerationEvent terminal) {
    GenerationSnapshot snapshot() {
      return new GenerationSnapshot(info, text, terminal.seq(), terminal.seq(), terminal, 0, null);
    }
  }

  /**
   * A response not streamed: the whole response object at the end; a generation that failed before
   * any text answers with its HTTP error, as chat completions do.
   */
  private static final class WholeOutput extends WholeAnswerOutput {
    private final ResponseJson.Echo echo;

    WholeOutput(
        HttpServerResponse response,
        GenerationStore store,
        GenerationInfo info,
        ResponseJson.Echo echo) {
      super(response, store, info);
      this.echo = echo;
    }

    @Override
    void answer(GenerationSnapshot finished) {
      GenerationEvent terminal = finished.terminal();
      if (terminal.type() == EventType.ERROR && finished.text().isEmpty()) {
        ErrorHandler.render(response, terminal.failure(), null);
        return;
      }
      response
          .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
          .end(ResponseJson.finished(info, echo, finished, toolCalls.result(), false).encode());
    }
  }
}
