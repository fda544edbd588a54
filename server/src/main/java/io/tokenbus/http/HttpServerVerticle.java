package io.tokenbus.http;

import io.netty.channel.Channel;
import io.tokenbus.auth.Authenticator;
import io.tokenbus.bus.Failure;
import io.tokenbus.config.TokenbusConfig;
import io.tokenbus.fanout.FanOut;
import io.tokenbus.feed.Board;
import io.tokenbus.generation.GenerationStore;
import io.tokenbus.limits.Limits;
import io.tokenbus.metrics.Metrics;
import io.tokenbus.provider.Upstreams;
import io.tokenbus.session.Sessions;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.impl.Http1xServerConnection;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.impl.ConnectionBase;
import io.vertx.ext.web.Route;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.handler.StaticHandler;
import io.vertx.ext.web.healthchecks.HealthCheckHandler;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP edge, one instance per event loop: the OpenAI-compatible API, generation status and SSE
 * streams, chat sessions, the WebSocket, and the classic {@code /stream} endpoint. Viewers it
 * creates, of generations and sessions alike, are fed by the node's {@link FanOut}.
 */
public final class HttpServerVerticle extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(HttpServerVerticle.class);

  private final TokenbusConfig config;
  private final GenerationStore store;
  private final FanOut fanOut;
  private final Upstreams upstreams;
  private final Sessions sessions;
  private final int port;
  private final AtomicInteger openStreams;
  private final String nodeId;
  private final IntConsumer onListening;
  private final Authenticator authenticator;
  private final Connections connections;
  private final Limits limits;
  private Heartbeats heartbeats;

  /**
   * @param port the port to bind; instances binding the same host and port share it
   * @param openStreams the node's count of open SSE and WebSocket connections, shared by all
   *     instances
   * @param nodeId this node's id (the owner id that generation statuses show)
   * @param onListening receives the port actually bound
   * @param authenticator the node's: checks credentials and signs watch and session tokens
   * @param connections the node's open connections and their limits, shared by all instances
   */
  private final NodeHealth health;

  private final Metrics metrics;
  private final Board board;

  public HttpServerVerticle(
      TokenbusConfig config,
      GenerationStore store,
      FanOut fanOut,
      Upstreams upstreams,
      Sessions sessions,
      int port,
      AtomicInteger openStreams,
      String nodeId,
      IntConsumer onListening,
      Authenticator authenticator,
      Connections connections,
      Limits limits,
      NodeHealth health,
      Metrics metrics,
      Board board) {
    this.health = health;
    this.metrics = metrics;
    this.board = board;
    this.limits = limits;
    this.connections = connections;
    this.nodeId = nodeId;
    this.authenticator = authenticator;
    this.upstreams = upstreams;
    this.sessions = sessions;
    this.config = config;
    this.store = store;
    this.fanOut = fanOut;
    this.port = port;
    this.openStreams = openStreams;
    this.onListening = onListening;
  }

  @Override
  public Future<?> start() {
    heartbeats = new Heartbeats(vertx, config.viewer().heartbeatSeconds(), openStreams);
    HttpServerOptions options =
        Listener.options(config.http())
            .setPort(port)
            .setHost(config.http().host())
            .setMaxWebSocketFrameSize(config.websocket().maxFrameBytes())
            .setMaxWebSocketMessageSize(config.websocket().maxFrameBytes())
            // No WebSocket compression: frames are framed once for every viewer, and without an
            // extension, a frame with reserved bits set is a protocol error (1002), as RFC 6455
            // says.
            .setPerMessageWebSocketCompressionSupported(false)
            .setPerFrameWebSocketCompressionSupported(false);
    GenerationClient generations =
        new GenerationClient(vertx, store, config.generation().placementAttempts(), limits);
    AuthHandler auth = new AuthHandler(authenticator, limits);
    // With auth off (the loopback default), answer only to loopback names: DNS rebinding.
    Origins origins =
        new Origins(
            config.http().cors().origins(), !authenticator.enabled() && !config.auth().open());
    Streams streams =
        new Streams(
            fanOut,
            store,
            sessions,
            config.viewer().writeQueueBytes(),
            heartbeats,
            new AccessLog(config.http().accessLog()));
    // WebSocket upgrades of /v1/ws are taken before the router: a routed request hands out a
    // wrapped socket, which hides the connection's pipeline from the fan-out's writes
    // (PipelineWriter). Every other request, an upgrade of another path included, is the router's.
    Router router = router(generations, streams, origins, auth);
    HttpServer server =
        vertx
            .createHttpServer(options)
            .connectionHandler(this::connected)
            .requestHandler(
                request -> {
                  if ("/v1/ws".equals(request.path()) && request.canUpgradeToWebSocket()) {
                    upgrade(request, origins, auth, streams, generations);
                  } else {
                    router.handle(request);
                  }
                })
            .invalidRequestHandler(ErrorHandler::invalidRequest);
    return Listener.checked(vertx, config.http().tls())
        .compose(v -> server.listen())
        .onSuccess(s -> onListening.accept(s.actualPort()));
  }

  /**
   * A WebSocket handshake on {@code /v1/ws}: its origin and credential are checked (and it is
   * counted against its tenant's rate) before it is accepted, and the socket keeps that principal
   * for every frame. A refusal is an HTTP answer in the API's error shape, not a bare status.
   */
  private void upgrade(
      HttpServerRequest request,
      Origins origins,
      AuthHandler auth,
      Streams streams,
      GenerationClient generations) {
    long started = System.nanoTime();
    ApiException refused = origins.refusal(request);
    if (refused == null) {
      refused = malformedHandshake(request);
    }
    if (refused != null) {
      streams.access().handshakeRefused(request, started);
      ErrorHandler.refuse(request, refused);
      return;
    }
    request.pause(); // upgraded once the credential is checked: nothing of it is read meanwhile
    auth.authenticate(request)
        .onFailure(
            e -> {
              streams.access().handshakeRefused(request, started);
              if (e instanceof ApiException api) {
                ErrorHandler.refuse(request, api);
              } else {
                LOG.error("WebSocket handshake on /v1/ws failed", e);
                ErrorHandler.refuse(request, new ApiException(Failure.internal("Internal error")));
              }
            })
        .onSuccess(
            caller ->
                request
                    .toWebSocket()
                    .onSuccess(
                        socket ->
                            new WebSocketConnection(
                                    vertx,
                                    socket,
                                    caller,
                                    streams,
                                    generations,
                                    store,
                                    sessions,
                                    board,
                                    config.websocket().maxSubscriptions())
                                .start())
                    .onFailure(
                        e -> LOG.debug("WebSocket upgrade on /v1/ws failed: {}", e.toString())));
  }

  /**
   * An HTTP/1.x request that announced a body (a length above 0, or chunks) not all read yet. (A
   * request without a body may be answered before its end is seen: that is not one.)
   */
  private static boolean unreadBody(HttpServerRequest request) {
    if (request.version() == io.vertx.core.http.HttpVersion.HTTP_2 || request.isEnded()) {
      return false;
    }
    String length = request.getHeader(HttpHeaders.CONTENT_LENGTH);
    return length != null
        ? !length.trim().equals("0")
        : request.getHeader(HttpHeaders.TRANSFER_ENCODING) != null;
  }

  /**
   * Why a handshake cannot be accepted as RFC 6455 has it (checked here, so that the refusal is in
   * the API's shape rather than Vert.x's bare status), or null. A version other than 13 is a 426
   * naming the version spoken.
   */
  private static ApiException malformedHandshake(HttpServerRequest request) {
    if (!"13".equals(request.getHeader("Sec-WebSocket-Version"))) {
      request.response().putHeader("Sec-WebSocket-Version", "13");
      return new ApiException(
          new Failure(
              426,
              "invalid_request_error",
              "unsupported_websocket_version",
              "This hub speaks WebSocket version 13 (RFC 6455): send Sec-WebSocket-Version: 13"));
    }
    String key = request.getHeader("Sec-WebSocket-Key");
    if (key == null || !key.trim().matches("[A-Za-z0-9+/]{22}==")) {
      return ApiException.badRequest(
          "invalid_websocket_handshake",
          "The WebSocket handshake needs a Sec-WebSocket-Key: 16 random bytes in base64",
          null);
    }
    return null;
  }

  /**
   * Counts a new connection against the node's limits: over them it is closed at once, or, from the
   * health reserve, may ask only for {@code /health}. Every HTTP/1.x connection gets its deadlines
   * ({@link ConnectionGuard}). Runs on the connection's event loop as it opens (with TLS, once the
   * handshake is done, which Vert.x bounds by its own 10 s handshake timeout).
   */
  private void connected(HttpConnection connection) {
    if (!(connection instanceof ConnectionBase base)) {
      return; // not a connection of Vert.x's own
    }
    String address =
        connection.remoteAddress() == null ? "" : connection.remoteAddress().hostAddress();
    Connections.Admission admission = connections.admit(address);
    Channel channel = base.channel();
    if (admission == Connections.Admission.REFUSED) {
      channel.close();
      return;
    }
    channel.closeFuture().addListener(closed -> connections.release(address, admission));
    if (connection instanceof Http1xServerConnection http1) {
      AtomicBoolean headIn = null;
      if (admission == Connections.Admission.HEALTH_ONLY) {
        headIn = new AtomicBoolean();
        connections.reserved(channel, headIn);
      }
      ConnectionGuard.install(http1.channelHandlerContext().pipeline(), config.http(), headIn);
    } else if (admission == Connections.Admission.HEALTH_ONLY) {
      channel.close(); // HTTP/2 multiplexes: no one-request connection to reserve
    }
  }

  @Override
  public Future<?> stop() {
    heartbeats.stop();
    return Future.succeededFuture();
  }

  private Router router(
      GenerationClient generations, Streams streams, Origins origins, AuthHandler auth) {
    ChatCompletionsHandler chat =
        new ChatCompletionsHandler(generations, store, streams, authenticator);
    GenerationsHandler gens = new GenerationsHandler(generations, store, streams, authenticator);
    SeedStreamHandler seed =
        new SeedStreamHandler(generations, streams, config.generation().streamModel());
    BodyHandler body = BodyHandler.create(false).setBodyLimit(config.http().maxBodyBytes());
    JsonBodies json = new JsonBodies();

    Router router = Router.router(vertx);
    router.route().handler(streams.access()::begin);
    // No browser may guess another type for what tokenbus sends (JSON, SSE, the page's files).
    router
        .route()
        .handler(
            ctx -> {
              ctx.response().putHeader("X-Content-Type-Options", "nosniff");
              // Answered before its body was all in (refused early: 415, 401, 429; or an endpoint
              // that reads none, asked with Expect: 100-continue): a client that stops sending once
              // it has its answer would leave the connection waiting for the rest, and its next
              // request read as that body. Such a connection is closed after the answer.
              ctx.addHeadersEndHandler(
                  v -> {
                    if (unreadBody(ctx.request())) {
                      ctx.response().putHeader(HttpHeaders.CONNECTION, "close");
                    }
                  });
              ctx.next();
            });
    // Pages on other origins first (a CORS preflight carries no credentials), then every API call
    // is authenticated; the chat page's files and /health stay public.
    router.route().handler(origins);
    router.route("/v1/*").handler(auth);
    router.post("/stream").handler(auth);
    MetricsHandler scrape =
        new MetricsHandler(vertx, metrics.prometheus(), config.metrics().open());
    if (scrape.served()) {
      Route route = router.route("/metrics").method(HttpMethod.GET).method(HttpMethod.HEAD);
      if (scrape.needsAuth()) {
        route.handler(auth);
      }
      route.handler(scrape::handle);
    }
    router.post("/v1/chat/completions").handler(json).handler(body).handler(chat::handle);
    ResponsesHandler responses = new ResponsesHandler(generations, store, streams);
    router.post("/v1/responses").handler(json).handler(body).handler(responses::handle);
    router.get("/v1/models").handler(this::models);
    // HEAD is GET without the body (Vert.x sends none), on what answers once rather than streams.
    router.head("/v1/models").handler(this::models);
    SessionsHandler chats =
        new SessionsHandler(sessions, streams, upstreams, authenticator, limits);
    router.post("/v1/sessions").handler(json).handler(body).handler(chats::create);
    router.get("/v1/sessions").handler(chats::list);
    router.head("/v1/sessions").handler(chats::list);
    router.get("/v1/sessions/:id").handler(chats::get);
    router.head("/v1/sessions/:id").handler(chats::get);
    router.delete("/v1/sessions/:id").handler(chats::delete);
    router.post("/v1/sessions/:id/messages").handler(json).handler(body).handler(chats::post);
    router.post("/v1/sessions/:id/stop").handler(json).handler(body).handler(chats::stop);
    router.post("/v1/sessions/:id/typing").handler(json).handler(body).handler(chats::typing);
    router.get("/v1/sessions/:id/events").handler(chats::events);
    router.post("/v1/generations").handler(json).handler(body).handler(gens::create);
    router.get("/v1/generations").handler(gens::list);
    router.get("/v1/generations/:id").handler(gens::status);
    router.head("/v1/generations/:id").handler(gens::status);
    router.get("/v1/generations/:id/events").handler(gens::events);
    router.post("/v1/generations/:id/cancel").handler(gens::cancel);
    router
        .get("/v1/ws")
        .handler(
            ctx ->
                ctx.fail(
                    new ApiException(
                        Failure.invalidRequest(
                            "websocket_required",
                            "GET /v1/ws is a WebSocket endpoint: send an Upgrade: websocket request"))));
    router.post("/stream").handler(json).handler(body).handler(seed::handle);
    router
        .route("/health")
        .method(HttpMethod.GET)
        .method(HttpMethod.HEAD)
        .handler(
            ctx ->
                ctx.response()
                    .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                    .end(
                        new JsonObject()
                            .put("status", "UP")
                            .put("node", nodeId)
                            .put("streams", openStreams.get())
                            .put("connections", connections.open())
                            .encode()));
    // Probes for load balancers and orchestrators (NodeHealth): public like /health, and telling
    // no more than up or down per check.
    router
        .route("/health/live")
        .method(HttpMethod.GET)
        .method(HttpMethod.HEAD)
        .handler(HealthCheckHandler.createWithHealthChecks(health.live()));
    router
        .route("/health/ready")
        .method(HttpMethod.GET)
        .method(HttpMethod.HEAD)
        .handler(HealthCheckHandler.createWithHealthChecks(health.ready()));
    // The chat page (src/main/resources/webroot): plain files, no build step.
    // A strict Content-Security-Policy as a second line behind the page's own escaping: no inline
    // script, no other origin. Files are small and unhashed, so they are served uncached.
    // Top-level files and the vendored libraries (webroot/vendor/<library>/<file>) only, so that a
    // GET on an API path still gets the API's own 404 or 405.
    router
        .getWithRegex("/(?!v1$)[^/]*|/vendor/[^/]+/[^/]+")
        .handler(
            ctx -> {
              ctx.response()
                  .putHeader(
                      "Content-Security-Policy",
                      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                          + "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
                  .putHeader("Referrer-Policy", "no-referrer");
              ctx.next();
            })
        .handler(
            StaticHandler.create("webroot")
                .setCachingEnabled(false)
                .setIncludeHidden(false)
                .setIndexPage("index.html"));
    // The dashboard page under a plain path. The route above has put the page headers on it, and
    // its
    // static handler passed (no file is named "dashboard"); a reroute to /dashboard.html would log
    // the request twice, under the other path.
    router.get("/dashboard").handler(ctx -> ctx.response().sendFile("webroot/dashboard.html"));
    router.route().failureHandler(ErrorHandler::handle);
    // Whatever vertx-web answers on its own (a path with a bad %-escape is its 400) is in the API's
    // error shape too.
    for (int status : new int[] {400, 404, 405, 413, 500}) {
      router.errorHandler(status, ErrorHandler.forStatus(status));
    }
    return router;
  }

  /**
   * OpenAI's model list. Models routed by pattern are listed as the pattern ({@code claude-*}): any
   * model matching it is served.
   */
  private void models(RoutingContext ctx) {
    JsonArray data = new JsonArray();
    for (Upstreams.ServedModel model : upstreams.models()) {
      data.add(
          new JsonObject()
              .put("id", model.id())
              .put("object", "model")
              .put("created", 0)
              .put("owned_by", model.provider())
              .put("pattern", model.pattern()));
    }
    ctx.response()
        .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
        .end(new JsonObject().put("object", "list").put("data", data).encode());
  }
}
