package io.tokenbus.generation;

import io.tokenbus.bus.Addresses;
import io.tokenbus.bus.ControlCommand;
import io.tokenbus.bus.EventBatch;
import io.tokenbus.bus.Failure;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.bus.Usage;
import io.tokenbus.config.TokenbusConfig;
import io.tokenbus.feed.GenerationFeed;
import io.tokenbus.limits.Limits;
import io.tokenbus.metrics.Metrics;
import io.tokenbus.provider.Upstreams;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The owner's loop of one generation, on one worker's event loop. Upstream events are numbered and
 * collected; a batch is appended to the log and, only once the append is acknowledged, published on
 * the generation's address as one message (group commit). One append is in flight at a time, so the
 * log and the published stream are in seq order. A cancel on the control address stops the upstream
 * and ends the generation with {@code cancelled}; so does nobody watching for {@code
 * generation.idle-cancel-seconds} (nodes with viewers say so on the control address). Talking to
 * the upstream, with its retries and recoveries, is {@link UpstreamRun}'s job.
 */
final class GenerationRun implements UpstreamRun.Sink {

  private static final Logger LOG = LoggerFactory.getLogger(GenerationRun.class);

  /** About 5 s of retries (50 ms doubling to 1 s) before a refused append ends the generation. */
  private static final int MAX_APPEND_RETRIES = 9;

  private final Vertx vertx;
  private final GenerationInfo info;
  private final GenerationStore store;
  private final TokenbusConfig.Generation config;
  private final int batchWindowMs;
  private final List<Upstreams.Target> chain;
  private final Runnable onEnd;
  private final CommitListener listener;
  private final Predicate<String> watchedHere;
  private final Limits limits;
  private final Progress resume;
  private final Metrics metrics;
  private final Metrics.GenerationMeters meters;
  private final GenerationFeed feed;
  private final GenerationHistory history;

  /** Time to first token as measured when it was published (ms), or -1. */
  private long firstTokenMs = -1;

  private GenerationFeed.Run feedRun;
  private final List<GenerationEvent> pending = new ArrayList<>();
  private final Promise<Void> ended = Promise.promise();
  private MessageConsumer<ControlCommand> control;
  private UpstreamRun upstream;

  /** One timer per generation: the upstream's timeouts and the idle-cancel policy. */
  private long ticker = -1;

  private long lastWatchedNanos = System.nanoTime();

  /**
   * When the node that took its request began starting it (Unix ms), or -1 for one taken over: its
   * time to first token runs from there to its first token's publication.
   */
  private final long receivedAt;

  /** The seq of its first delta (0: none yet), and whether its publication was timed. */
  private long firstDeltaSeq;

  private boolean firstTokenTimed;

  /** When its last token came from the upstream (0: none yet). */
  private long lastTokenNanos;

  /** Its final status, once the terminal event is in the log; null if it was handed over. */
  private String endStatus;

  /**
   * When the generation started, for its wall-clock cap: now, or for one taken over from another
   * node, its creation (to the second).
   */
  private final long startedMillis;

  private long nextSeq;
  private boolean terminalQueued;

  /** What the log holds so far, as {@link GenerationEvent#bytes} counts it. */
  private long logBytes;

  private boolean flushScheduled;
  private boolean appending;
  private boolean stopped;
  private boolean logFailed;

  /**
   * @param resume where to continue a generation taken over from another node, or null to start one
   */
  GenerationRun(
      Vertx vertx,
      GenerationInfo info,
      GenerationStore store,
      TokenbusConfig config,
      List<Upstreams.Target> chain,
      Progress resume,
      long receivedAt,
      CommitListener listener,
      Predicate<String> watchedHere,
      Limits limits,
      Metrics metrics,
      GenerationFeed feed,
      GenerationHistory history,
      Runnable onEnd) {
    this.history = history;
    this.metrics = metrics;
    this.feed = feed;
    this.receivedAt = receivedAt;
    this.meters =
        metrics.generation(
            info.request().creator().tenant(), info.model(), chain.get(0).provider().name());
    this.watchedHere = watchedHere;
    this.limits = limits;
    this.listener = info.request().session() == null ? CommitListener.NONE : listener;
    this.vertx = vertx;
    this.info = info;
    this.store = store;
    this.config = config.generation();
    this.batchWindowMs = config.batchWindowMs();
    this.chain = chain;
    this.resume = resume;
    this.onEnd = onEnd;
    this.nextSeq = resume == null ? 1 : resume.lastSeq() + 1;
    this.startedMillis = resume == null ? System.currentTimeMillis() : info.created() * 1000;
  }

  String id() {
    return info.id();
  }

  /**
   * Listens for commands, then starts (or continues) the upstream call; completes once both are in
   * place.
   */
  Future<Void> start() {
    control = vertx.eventBus().consumer(Addresses.control(info.id()), this::onControl);
    return control
        .completion()
        .onSuccess(
            v -> {
              upstream =
                  new UpstreamRun(vertx, info.id(), info.request(), chain, resume, this, metrics);
              // A session's answer belongs to its transcript, watched or not: it ends by itself or
              // by the session's stop.
              int idleCancel = info.request().session() != null ? 0 : config.idleCancelSeconds();
              ticker =
                  vertx.setPeriodic(
                      upstream.tickMillis(),
                      t -> { // at most 250 ms: fine enough for idle-cancel too
                        upstream.checkTimeouts();
                        checkDuration();
                        if (idleCancel > 0) {
                          checkIdle(idleCancel);
                        }
                      });
              if (resume != null) {
                listener.resumed(info);
              }
              Audit.started(info, resume != null);
              meters.started();
              feedRun = feed.started(info, resume != null);
              upstream.start();
            });
  }

  /**
   * Gives the generation up without ending it (this node is shutting down): the upstream stops,
   * unwritten events are dropped (nobody saw them) and the store releases ownership, bumping the
   * epoch, so another node takes it over from the log and this one can no longer write.
   */
  Future<Void> release() {
    if (stopped || terminalQueued) {
      return Future.succeededFuture();
    }
    if (upstream != null) {
      upstream.cancel();
    }
    pending.clear();
    LOG.info("Generation {} released for another node to take over", info.id());
    return store.release(info.id(), info.epoch()).<Void>mapEmpty().onComplete(ar -> stop());
  }

  private void onControl(Message<ControlCommand> message) {
    switch (message.body()) {
      case WATCHING -> lastWatchedNanos = System.nanoTime();
      case CANCEL -> {
        if (!terminalQueued) {
          LOG.info("Generation {} cancelled", info.id());
          cancel();
        }
        ended.future().onComplete(ar -> message.reply(null));
      }
    }
  }

  /**
   * Cancels the generation once nobody has watched it for {@code idleCancel} seconds. Viewers on
   * this node are known at once; other nodes' say so on the control address. Under a heavy load
   * their reports can come late, so a generation watched here is never idle.
   */
  private void checkIdle(int idleCancel) {
    if (watchedHere.test(info.id())) {
      lastWatchedNanos = System.nanoTime();
    }
    if (System.nanoTime() - lastWatchedNanos > idleCancel * 1_000_000_000L && !terminalQueued) {
      LOG.info(
          "Generation {}: nobody watched it for {} s (generation.idle-cancel-seconds); cancelling",
          info.id(),
          idleCancel);
      cancel();
    }
  }

  /** Ends the generation once it has run {@code generation.max-duration-seconds}, wherever. */
  private void checkDuration() {
    if (terminalQueued
        || System.currentTimeMillis() - startedMillis < config.maxDurationSeconds() * 1000L) {
      return;
    }
    LOG.info(
        "Generation {}: ran {} s, its longest allowed (generation.max-duration-seconds); ending it",
        info.id(),
        config.maxDurationSeconds());
    Usage usage = usageSoFar();
    upstream.cancel();
    fail(
        new Failure(
            504,
            "upstream_error",
            "duration_limit_reached",
            "The generation ran for "
                + config.maxDurationSeconds()
                + " s, the longest allowed (generation.max-duration-seconds); the text so far is"
                + " kept"),
        usage);
  }

  private void cancel() {
    if (upstream != null) {
      upstream.cancel();
    }
    queue(GenerationEvent.cancelled(nextSeq++, usageSoFar()));
  }

  /** False, after ending the generation with an error, when it has no room for another event. */
  private boolean room() {
    if (terminalQueued) {
      return false;
    }
    if (nextSeq >= config.maxEvents()) {
      return stopAt(
          "event_limit_reached",
          "The generation reached the limit of "
              + config.maxEvents()
              + " events (generation.max-events)");
    }
    if (logBytes >= config.maxLogBytes()) {
      return stopAt(
          "log_limit_reached",
          "The generation's log reached "
              + config.maxLogBytes()
              + " bytes (generation.max-log-bytes)");
    }
    return true;
  }

  /** Stops the upstream and ends the generation with an error at a bound; false. */
  private boolean stopAt(String code, String message) {
    Usage usage = usageSoFar();
    upstream.cancel();
    fail(new Failure(502, "upstream_error", code, message), usage);
    return false;
  }

  @Override
  public void delta(String text, String chunk) {
    long now = System.nanoTime();
    meters.token(lastTokenNanos == 0 ? -1 : now - lastTokenNanos);
    lastTokenNanos = now;
    feedRun.token();
    if (room()) {
      if (firstDeltaSeq == 0) {
        firstDeltaSeq = nextSeq;
      }
      queue(GenerationEvent.delta(nextSeq++, text, chunk));
    }
  }

  /**
   * The batch is published: if it holds the first token, the time to first token is what the client
   * of the request saw, but for its own network: from its node taking the request (clocks of two
   * nodes may differ by their skew) to the token published on the bus.
   */
  private void published(EventBatch batch) {
    if (!firstTokenTimed && firstDeltaSeq > 0 && batch.lastSeq() >= firstDeltaSeq) {
      firstTokenTimed = true;
      if (receivedAt > 0) {
        long ms = Math.max(0, System.currentTimeMillis() - receivedAt);
        firstTokenMs = ms;
        meters.firstToken(ms * 1_000_000);
        feedRun.firstToken(ms);
      }
    }
  }

  @Override
  public void toolCall(String chunk) {
    if (room()) {
      queue(GenerationEvent.toolCall(nextSeq++, chunk));
    }
  }

  @Override
  public void reset(Failure cause) {
    if (room()) {
      queue(GenerationEvent.reset(nextSeq++, cause));
    }
  }

  @Override
  public void recovery(String kind, Failure cause, JsonObject details) {
    metrics.recovery(kind);
    feedRun.recovery();
    if (room()) {
      queue(GenerationEvent.recovery(nextSeq++, kind, cause, details.encode()));
    }
  }

  @Override
  public void finish(String finishReason, Usage usage) {
    if (!terminalQueued) {
      queue(GenerationEvent.done(nextSeq++, finishReason, usage));
    }
  }

  @Override
  public void fail(Failure failure, Usage usage) {
    if (!terminalQueued) {
      queue(GenerationEvent.error(nextSeq++, failure, usage));
    }
  }

  private Usage usageSoFar() {
    return upstream != null ? upstream.usageSoFar() : Usage.of(0, 0);
  }

  private void queue(GenerationEvent event) {
    logBytes += event.bytes();
    terminalQueued |= event.terminal();
    pending.add(event);
    if (pending.size() >= config.batchMaxEvents() || event.terminal()) {
      flush();
    } else if (!flushScheduled) {
      flushScheduled = true;
      if (batchWindowMs == 0) {
        // After the current task: everything one upstream read delivered goes in one batch.
        vertx.getOrCreateContext().runOnContext(v -> flush());
      } else {
        vertx.setTimer(batchWindowMs, t -> flush());
      }
    }
  }

  private void flush() {
    flushScheduled = false;
    if (appending || stopped || pending.isEmpty()) {
      return;
    }
    EventBatch batch = new EventBatch(info.id(), info.epoch(), pending);
    pending.clear();
    append(batch, 0);
  }

  /**
   * Appends, then publishes. A refused append is retried with backoff (appends are idempotent, so a
   * retry of one that did land is harmless): a replicated log refuses writes for a moment while a
   * lost member's partitions move, and an append whose backup is unconfirmed must not count.
   */
  private void append(EventBatch batch, int attempt) {
    appending = true;
    store
        .append(info.id(), info.epoch(), batch.events())
        .onComplete(
            ar -> {
              if (ar.failed()
                  && !(ar.cause() instanceof StaleEpochException)
                  && attempt < MAX_APPEND_RETRIES
                  && !stopped) {
                long delay = Math.min(1000, 50L << attempt);
                LOG.debug(
                    "Generation {}: append of seq {}..{} failed ({}), retrying in {} ms",
                    info.id(),
                    batch.firstSeq(),
                    batch.lastSeq(),
                    ar.cause().getMessage(),
                    delay);
                vertx.setTimer(delay, t -> append(batch, attempt + 1));
                return;
              }
              appending = false;
              if (ar.failed()) {
                onAppendFailed(batch, ar.cause());
                return;
              }
              if (batch.terminal()) {
                ended(batch);
                return;
              }
              vertx.eventBus().publish(Addresses.events(info.id()), batch);
              published(batch);
              listener.committed(info, batch.events());
              if (!pending.isEmpty()) {
                flush();
              }
            });
  }

  /**
   * The terminal batch is in the log. Its tenant's running slot is freed, and its tokens counted,
   * before anyone hears that it ended: whoever starts the next generation on that news (a session's
   * next queued answer, a client that saw {@code [DONE]}, the reply to a cancel) finds the slot
   * free. Only a limited tenant's update takes time (a round trip in a cluster); a failed one is
   * the limits' to log, and delays nothing further.
   */
  private void ended(EventBatch batch) {
    GenerationEvent terminal = batch.events().get(batch.events().size() - 1);
    Audit.ended(info, terminal);
    endStatus = GenerationStatus.of(terminal).wireName();
    limits
        .ended(
            info.request().creator(),
            info.id(),
            terminal.usage() == null ? 0 : terminal.usage().completionTokens())
        .onComplete(
            freed -> {
              vertx.eventBus().publish(Addresses.events(info.id()), batch);
              published(batch);
              feedRun.finished(terminal);
              listener.committed(info, batch.events());
              history.finished(
                  info,
                  terminal,
                  firstTokenMs,
                  System.currentTimeMillis() - (receivedAt > 0 ? receivedAt : startedMillis));
              stop();
            });
  }

  /**
   * The log refused a batch, or its answer was lost. A stale epoch means another node owns the
   * generation now: stop quietly. Otherwise the batch may or may not be in the log, so read where
   * the log really ends and write an {@code error} right after it, so nobody waits forever. If the
   * log refuses that too, nothing more is published that it lacks: the generation is released for
   * another node to take over; only a single node, with nobody to hand it to, tells its live
   * viewers directly.
   */
  private void onAppendFailed(EventBatch batch, Throwable cause) {
    if (cause instanceof StaleEpochException) {
      LOG.warn("Generation {}: {}; this node stops writing it", info.id(), cause.getMessage());
      stop();
      return;
    }
    if (upstream != null) {
      upstream.cancel();
    }
    pending.clear();
    if (logFailed) {
      LOG.error("Generation {}: the log refused the terminal event too", info.id(), cause);
      store
          .release(info.id(), info.epoch())
          .onComplete(
              released -> {
                if (released.failed() || !released.result()) {
                  vertx.eventBus().publish(Addresses.events(info.id()), batch);
                  if (batch.terminal()) { // told directly: it ends here, as far as anyone knows
                    GenerationEvent terminal = batch.events().get(batch.events().size() - 1);
                    endStatus = GenerationStatus.of(terminal).wireName();
                    feedRun.finished(terminal);
                  }
                }
                stop();
              });
      return;
    }
    LOG.error(
        "Generation {}: append of seq {}..{} failed; ending the generation",
        info.id(),
        batch.firstSeq(),
        batch.lastSeq(),
        cause);
    logFailed = true;
    store
        .snapshot(info.id())
        .onComplete(
            read -> {
              nextSeq =
                  read.succeeded() && read.result() != null
                      ? read.result().lastSeq() + 1
                      : batch.firstSeq();
              terminalQueued = false;
              queue(
                  GenerationEvent.error(
                      nextSeq++,
                      Failure.internal("The generation's log could not be written"),
                      usageSoFar()));
            });
  }

  private void stop() {
    if (stopped) {
      return;
    }
    stopped = true;
    if (upstream != null) {
      upstream.cancel();
    }
    vertx.cancelTimer(ticker);
    control.unregister();
    if (upstream != null) { // it had started: its start was counted
      meters.ended(endStatus);
      feedRun.gone();
    }
    ended.tryComplete();
    onEnd.run();
  }
}
