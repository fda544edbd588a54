package io.tokenbus.generation;

import io.tokenbus.bus.Addresses;
import io.tokenbus.bus.Failure;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.bus.StartReply;
import io.tokenbus.config.TokenbusConfig;
import io.tokenbus.feed.GenerationFeed;
import io.tokenbus.limits.Limits;
import io.tokenbus.metrics.Metrics;
import io.tokenbus.provider.UnavailableProvider;
import io.tokenbus.provider.Upstreams;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.Message;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A generation worker: takes generation requests from {@link Addresses#WORK}, and from its own
 * event loop's address ({@link Addresses#workOn}) where the HTTP verticle on the same loop offers
 * them first, routes each to its provider and runs it ({@link GenerationRun}). Pulling an upstream
 * is non-blocking I/O, so this verticle runs on an event loop, not a worker thread; several
 * instances spread the generations.
 */
public final class GenerationVerticle extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(GenerationVerticle.class);

  private final TokenbusConfig config;
  private final GenerationStore store;
  private final AtomicInteger running;
  private final String nodeId;
  private final Upstreams upstreams;
  private final CommitListener listener;
  private final Predicate<String> watchedHere;
  private final Limits limits;
  private final Metrics metrics;
  private final GenerationFeed feed;
  private final GenerationHistory history;

  /** Generations this worker runs, touched only on its event loop. */
  private final Map<String, GenerationRun> runs = new HashMap<>();

  /**
   * @param running generations running on this node, shared by all worker instances, bounded by
   *     {@code generation.max-concurrent}
   */
  public GenerationVerticle(
      TokenbusConfig config,
      GenerationStore store,
      AtomicInteger running,
      String nodeId,
      Upstreams upstreams,
      CommitListener listener,
      Predicate<String> watchedHere,
      Limits limits,
      Metrics metrics,
      GenerationFeed feed,
      GenerationHistory history) {
    this.history = history;
    this.limits = limits;
    this.metrics = metrics;
    this.feed = feed;
    this.config = config;
    this.listener = listener;
    this.watchedHere = watchedHere;
    this.upstreams = upstreams;
    this.store = store;
    this.running = running;
    this.nodeId = nodeId;
  }

  @Override
  public Future<?> start() {
    vertx.eventBus().<ResumeGeneration>localConsumer(Addresses.RESUME, this::onResume);
    vertx
        .eventBus()
        .<GenerationRequest>localConsumer(
            Addresses.workOn(Thread.currentThread()), this::onRequest);
    return vertx
        .eventBus()
        .<GenerationRequest>consumer(Addresses.WORK, this::onRequest)
        .completion();
  }

  /** On shutdown, running generations are released so that another node takes them over. */
  @Override
  public Future<?> stop() {
    List<Future<Void>> released = new ArrayList<>();
    new ArrayList<>(runs.values()).forEach(run -> released.add(run.release()));
    return Future.join(released);
  }

  /**
   * Continues a generation this node has just taken over (see the cluster's ownership watchdog).
   */
  private void onResume(Message<ResumeGeneration> message) {
    ResumeGeneration resume = message.body();
    Upstreams.Route route = upstreams.route(resume.info().model());
    List<Upstreams.Target> chain =
        route.failure() == null
            ? route.chain()
            : List.of(
                new Upstreams.Target(
                    resume.info().model(),
                    new UnavailableProvider(route.failure()),
                    Upstreams.MOCK_POLICY,
                    null));
    running.incrementAndGet();
    launch(resume.info(), chain, resume.progress(), -1)
        .onSuccess(
            v ->
                LOG.info(
                    "Generation {} taken over at seq {} (epoch {})",
                    resume.info().id(),
                    resume.progress().lastSeq(),
                    resume.info().epoch()));
  }

  /** Runs a generation on this worker until it ends or is released. */
  private Future<Void> launch(
      GenerationInfo info, List<Upstreams.Target> chain, Progress resume, long receivedAt) {
    GenerationRun run =
        new GenerationRun(
            vertx,
            info,
            store,
            config,
            chain,
            resume,
            receivedAt,
            listener,
            watchedHere,
            limits,
            metrics,
            feed,
            history,
            () -> {
              runs.remove(info.id());
              running.decrementAndGet();
            });
    runs.put(info.id(), run);
    return run.start();
  }

  /** When the request's node took it (Unix ms), or now for a sender that did not say. */
  private static long receivedAt(Message<?> message) {
    String received = message.headers().get(Addresses.RECEIVED_AT_HEADER);
    try {
      return received == null ? System.currentTimeMillis() : Long.parseLong(received);
    } catch (NumberFormatException e) {
      return System.currentTimeMillis();
    }
  }

  private void onRequest(Message<GenerationRequest> message) {
    GenerationRequest request = message.body();
    Upstreams.Route route = upstreams.route(request.model());
    if (route.failure() != null) {
      message.reply(StartReply.refused(route.failure()));
      return;
    }
    if (running.incrementAndGet() > config.generation().maxConcurrent()) {
      running.decrementAndGet();
      message.reply(
          StartReply.refused(
              new Failure(
                  429,
                  "rate_limit_error",
                  "capacity_exceeded",
                  "No node asked has room for another generation (generation.max-concurrent); retry shortly")));
      return;
    }
    String chosen = message.headers().get(Addresses.GENERATION_ID_HEADER);
    String id =
        request.session() != null
            ? request.session().generation()
            : chosen != null ? chosen : GenerationIds.next();
    GenerationInfo info =
        new GenerationInfo(
            id, request.model(), System.currentTimeMillis() / 1000, request, nodeId, 1);
    store
        .create(info)
        .compose(v -> launch(info, route.chain(), null, receivedAt(message)))
        .onSuccess(
            v -> {
              LOG.debug(
                  "Generation {} started on {} ({})",
                  info.id(),
                  route.chain().get(0).provider().name(),
                  info.model());
              message.reply(StartReply.started(info.id(), info.created()));
            })
        .onFailure(
            e -> {
              running.decrementAndGet();
              LOG.error("Generation {} could not start", info.id(), e);
              message.reply(
                  StartReply.refused(Failure.internal("The generation could not be started")));
            });
  }
}
