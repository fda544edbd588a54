package io.tokenbus.http;

import io.tokenbus.bus.EventType;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.fanout.Encoded;
import io.tokenbus.fanout.Viewer;
import io.tokenbus.fanout.WireFormat;
import io.tokenbus.generation.GenerationInfo;
import io.vertx.ext.web.RoutingContext;

/**
 * A requester's streamed answer (a chat completion, a Responses API response). Its headers wait for
 * real output, so that retries before the first token do not commit the status, and a generation
 * that fails before any output answers with its HTTP error instead of a 200 stream holding one.
 * Text already streamed cannot be taken back in these formats: at a {@code reset} the stream ends
 * (after what {@link #restartedAt} writes) and this client stops watching, while the generation
 * goes on for the others. Each format says what opens its stream, what it notes of each event, and
 * what closes it.
 */
abstract class AnswerStreamOutput extends SseOutput<GenerationEvent> {

  protected final GenerationInfo info;
  private boolean started;
  private boolean answeredWithError;
  private boolean restarted;
  private Viewer<GenerationEvent> viewer;

  AnswerStreamOutput(Streams streams, RoutingContext ctx, WireFormat format, GenerationInfo info) {
    super(streams, ctx, format);
    this.info = info;
  }

  /** Writes what opens the stream, its headers just sent. */
  abstract void opened();

  /** Notes an event before the batch holding it is written. */
  void seen(GenerationEvent event) {}

  /** Writes what tells this client its stream ends at {@code reset} (the format may say it). */
  void restartedAt(GenerationEvent reset) {}

  /** Writes what closes a stream that ran to its end. */
  void closing() {}

  @Override
  public void write(Encoded<GenerationEvent> events) {
    if (!started) {
      GenerationEvent first =
          events.events().stream()
              .filter(e -> e.type() != EventType.RECOVERY)
              .findFirst()
              .orElse(null);
      if (first == null) {
        return;
      }
      started = true;
      if (first.type() == EventType.ERROR) {
        answeredWithError = true;
        ErrorHandler.render(response, first.failure(), null);
        return;
      }
      SseOutput.prepare(response, info.id());
      opened();
    }
    if (restarted || answeredWithError) {
      return;
    }
    GenerationEvent reset = null;
    for (GenerationEvent event : events.events()) {
      seen(event);
      if (event.type() == EventType.RESET && reset == null) {
        reset = event;
      }
    }
    super.write(events);
    if (reset != null) {
      restarted = true;
      restartedAt(reset);
      super.end();
      if (viewer != null) {
        viewer.close();
      }
    }
  }

  @Override
  void watch(Viewer<GenerationEvent> viewer) {
    this.viewer = viewer;
    super.watch(viewer);
  }

  @Override
  public void end() {
    if (restarted) {
      return;
    }
    if (answeredWithError) {
      super.closed();
      return;
    }
    if (!response.closed()) {
      closing();
    }
    super.end();
  }
}
