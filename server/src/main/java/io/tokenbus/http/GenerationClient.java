package io.tokenbus.http;

import io.tokenbus.auth.Principal;
import io.tokenbus.bus.Addresses;
import io.tokenbus.bus.ControlCommand;
import io.tokenbus.bus.Failure;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.bus.StartReply;
import io.tokenbus.generation.GenerationIds;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.GenerationStore;
import io.tokenbus.limits.LimitExceeded;
import io.tokenbus.limits.Limits;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;

/**
 * The HTTP side's view of the workers: start a generation, cancel one. Failures are {@link
 * ApiException}s.
 */
public final class GenerationClient {

  private static final DeliveryOptions START = new DeliveryOptions().setSendTimeout(10_000);
  private static final DeliveryOptions CONTROL = new DeliveryOptions().setSendTimeout(5_000);

  /** The worker on this loop, if any: never looked up in the cluster. */
  private static final DeliveryOptions LOCAL_START =
      new DeliveryOptions().setSendTimeout(10_000).setLocalOnly(true);

  private final Vertx vertx;
  private final GenerationStore store;
  private final int placementAttempts;
  private final Limits limits;

  public GenerationClient(
      Vertx vertx, GenerationStore store, int placementAttempts, Limits limits) {
    this.vertx = vertx;
    this.store = store;
    this.placementAttempts = placementAttempts;
    this.limits = limits;
  }

  /**
   * Sends the request to a worker; completes with the started generation. The worker on the
   * caller's own event loop is asked first, if there is one (the HTTP verticles and the workers
   * share the node's loops): the generation then runs where its first viewer reads it, and its
   * first token crosses no thread on the way. Otherwise, or when this node is full, the request
   * goes round-robin over every node's workers: a worker whose node is full refuses with {@code
   * capacity_exceeded}, and the request is offered to the next one, up to {@code
   * generation.placement-attempts} offers in all.
   */
  public Future<GenerationInfo> start(GenerationRequest request) {
    return start(request, System.currentTimeMillis());
  }

  /**
   * @param received when the request that asks for it arrived (Unix ms): its time to first token
   *     runs from there
   */
  public Future<GenerationInfo> start(GenerationRequest request, long received) {
    String id = request.session() != null ? request.session().generation() : GenerationIds.next();
    return limits
        .admit(request, id)
        .recover(GenerationClient::asAnswer)
        .compose(
            admitted ->
                placeHereFirst(admitted, id, received)
                    .compose(
                        reply -> {
                          if (reply.failure() == null) {
                            return Future.succeededFuture(reply);
                          }
                          limits.release(admitted, id); // refused: it runs nowhere
                          return Future.failedFuture(new ApiException(reply.failure()));
                        },
                        e -> {
                          // A worker that did not answer in time may still have started it: its
                          // slot is then freed when it ends, or at its stale time.
                          if (!timedOut(e)) {
                            limits.release(admitted, id);
                          }
                          return Future.failedFuture(unavailable(e));
                        }))
        .compose(reply -> store.info(reply.generationId()));
  }

  /**
   * Counts a request of {@code caller} that is not an HTTP request of its own (a WebSocket frame
   * that starts a generation) against its tenant's rate, then starts the generation.
   */
  public Future<GenerationInfo> startCounted(Principal caller, GenerationRequest request) {
    return limits
        .countRequest(caller)
        .recover(GenerationClient::asAnswer)
        .compose(h -> start(request));
  }

  /** A tenant's limit as the answer every caller here renders (HTTP, WebSocket frame, session). */
  private static <T> Future<T> asAnswer(Throwable e) {
    return Future.failedFuture(e instanceof LimitExceeded l ? ApiException.of(l) : e);
  }

  private Future<StartReply> placeHereFirst(GenerationRequest request, String id, long received) {
    if (!Context.isOnEventLoopThread()) {
      return place(request, id, received, 1);
    }
    return ask(Addresses.workOn(Thread.currentThread()), request, id, received, LOCAL_START)
        .compose(
            reply ->
                full(reply) && placementAttempts > 1
                    ? place(request, id, received, 2)
                    : Future.succeededFuture(reply),
            e -> noOwner(e) ? place(request, id, received, 1) : Future.failedFuture(e));
  }

  private Future<StartReply> place(
      GenerationRequest request, String id, long received, int attempt) {
    return ask(Addresses.WORK, request, id, received, START)
        .compose(
            reply ->
                full(reply) && attempt < placementAttempts
                    ? place(request, id, received, attempt + 1)
                    : Future.succeededFuture(reply));
  }

  private Future<StartReply> ask(
      String address,
      GenerationRequest request,
      String id,
      long received,
      DeliveryOptions options) {
    return vertx
        .eventBus()
        .<StartReply>request(
            address,
            request,
            new DeliveryOptions(options)
                .addHeader(Addresses.GENERATION_ID_HEADER, id)
                .addHeader(Addresses.RECEIVED_AT_HEADER, Long.toString(received)))
        .map(Message::body);
  }

  private static boolean full(StartReply reply) {
    return reply.failure() != null && "capacity_exceeded".equals(reply.failure().code());
  }

  private static ApiException unavailable(Throwable e) {
    return new ApiException(
        new Failure(
            503,
            "api_error",
            "no_worker",
            "No generation worker could take the request: " + e.getMessage()));
  }

  /** Asks the owner to cancel; fails with NO_HANDLERS when the generation has already ended. */
  Future<Void> cancel(String id) {
    return vertx
        .eventBus()
        .request(Addresses.control(id), ControlCommand.CANCEL, CONTROL)
        .mapEmpty();
  }

  private static boolean timedOut(Throwable e) {
    return e instanceof ReplyException reply && reply.failureType() == ReplyFailure.TIMEOUT;
  }

  static boolean noOwner(Throwable e) {
    return e instanceof ReplyException reply && reply.failureType() == ReplyFailure.NO_HANDLERS;
  }
}
