package io.tokenbus.history;

import io.tokenbus.config.TokenbusConfig;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClientOptions;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import java.util.concurrent.CompletableFuture;
import org.flywaydb.core.Flyway;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The connection to the history's PostgreSQL: the schema migrated at start-up by Flyway (blocking
 * JDBC, on a thread of its own, never an event loop), then a reactive pool for every query.
 */
public final class Database {

  private static final Logger LOG = LoggerFactory.getLogger(Database.class);

  /** Every table lives here, apart from whatever else shares the database. */
  public static final String SCHEMA = "tokenbus";

  private Database() {}

  /** The server, user and password {@code config} names; the password never leaves this object. */
  static PgConnectOptions connectOptions(TokenbusConfig.Database config) {
    PgConnectOptions options = PgConnectOptions.fromUri(uri(config));
    if (!config.password().isEmpty()) {
      options.setPassword(config.password());
    }
    return options
        .setCachePreparedStatements(true)
        .setReconnectAttempts(0)
        .addProperty("application_name", "tokenbus")
        // A database that takes a statement and then never answers fails the batch, to be tried
        // again, rather than holding the queue until TCP gives up.
        .addProperty("statement_timeout", "30000");
  }

  private static String uri(TokenbusConfig.Database config) {
    return config.url().replaceFirst("^postgres://", "postgresql://");
  }

  /** The pool reads run on: {@code database.pool-size} connections. */
  public static Pool pool(Vertx vertx, TokenbusConfig.Database config) {
    return pool(vertx, config, config.poolSize(), "tokenbus-history");
  }

  /**
   * The write queue's own connection: writes go one batch at a time, and never wait behind reads (a
   * burst of lookups of sessions no longer in memory, a listing).
   */
  public static Pool writer(Vertx vertx, TokenbusConfig.Database config) {
    return pool(vertx, config, 1, "tokenbus-history-writer");
  }

  private static Pool pool(Vertx vertx, TokenbusConfig.Database config, int size, String name) {
    return PgBuilder.pool()
        .with(
            new PoolOptions()
                .setMaxSize(size)
                .setName(name)
                .setMaxWaitQueueSize(Math.max(64, config.maxQueuedWrites())))
        // A database that does not answer fails the batch in seconds, to be tried again, rather
        // than after the default minute; keepalive finds a connection whose peer is gone.
        .with(new NetClientOptions().setConnectTimeout(5000).setTcpKeepAlive(true))
        .connectingTo(connectOptions(config))
        .using(vertx)
        .build();
  }

  /**
   * The JDBC URL Flyway connects with: the configured one with its query (sslmode and the like) but
   * without user info, the user and password being given apart.
   */
  static String jdbcUrl(TokenbusConfig.Database config) {
    java.net.URI uri = java.net.URI.create(uri(config));
    String host = uri.getHost();
    return "jdbc:postgresql://"
        + host
        + (uri.getPort() < 0 ? "" : ":" + uri.getPort())
        + uri.getRawPath()
        + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery());
  }

  /**
   * Creates or brings up to date the schema, with Flyway's versioned migrations ({@code
   * io/tokenbus/history/migration}); several nodes starting at once wait for each other (Flyway
   * holds a lock in the database). Runs on a thread of its own, so no event loop and no Vert.x
   * context is used: contexts made before the verticles would shift which loop each gets.
   */
  public static Future<Void> migrate(TokenbusConfig.Database config) {
    PgConnectOptions options = connectOptions(config);
    String jdbc = jdbcUrl(config);
    CompletableFuture<Void> done = new CompletableFuture<>();
    Thread thread =
        new Thread(
            () -> {
              try {
                var result =
                    Flyway.configure()
                        .dataSource(jdbc, options.getUser(), options.getPassword())
                        .schemas(SCHEMA)
                        .createSchemas(true)
                        .locations("classpath:io/tokenbus/history/migration")
                        .connectRetries(5)
                        .load()
                        .migrate();
                LOG.info(
                    "history in PostgreSQL at {}: schema {} at version {}",
                    TokenbusConfig.Database.redacted(config.url()),
                    SCHEMA,
                    result.targetSchemaVersion == null
                        ? currentVersion(result.initialSchemaVersion)
                        : result.targetSchemaVersion);
                done.complete(null);
              } catch (RuntimeException | Error e) {
                done.completeExceptionally(
                    new IllegalStateException(
                        "the history's database at "
                            + TokenbusConfig.Database.redacted(config.url())
                            + " could not be migrated: "
                            + rootMessage(e)));
              }
            },
            "tokenbus-migrate");
    thread.setDaemon(true);
    thread.start();
    return Future.fromCompletionStage(done);
  }

  private static String currentVersion(String initial) {
    return initial == null ? "none" : initial;
  }

  /** The innermost cause's message: JDBC wraps the one that says what happened. */
  static String rootMessage(Throwable e) {
    Throwable cause = e;
    while (cause.getCause() != null && cause.getCause() != cause) {
      cause = cause.getCause();
    }
    return cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
  }
}
