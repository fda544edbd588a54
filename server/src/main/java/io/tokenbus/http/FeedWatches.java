package io.tokenbus.http;

import io.tokenbus.auth.Principal;
import io.tokenbus.auth.Scope;
import io.tokenbus.feed.Board;
import io.tokenbus.feed.Watcher;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A socket's {@code watch} and {@code unwatch} frames: the dashboard feeds. {@code generations}
 * streams the lifecycle of every generation the caller may see (its tenant's; the admin key's: all)
 * that passes the frame's {@code filter} ({@code model}, {@code metadata} keys); {@code cluster}
 * (admin key only) streams one snapshot per node per second. Each watch takes one of the socket's
 * {@code websocket.max-subscriptions}.
 */
final class FeedWatches {

  private static final Set<String> FILTER_KEYS = Set.of("model", "metadata");

  private final WebSocketConnection connection;
  private final Board board;
  private final Map<Watcher.Feed, Watcher> watching = new EnumMap<>(Watcher.Feed.class);

  FeedWatches(WebSocketConnection connection, Board board) {
    this.connection = connection;
    this.board = board;
  }

  int count() {
    return watching.size();
  }

  void watch(JsonObject frame) {
    Watcher.Feed feed = feed(frame);
    if (feed == null) {
      return;
    }
    Principal caller = connection.caller();
    if (feed == Watcher.Feed.CLUSTER ? !caller.admin() : !mayWatchGenerations(caller)) {
      connection.error(
          "feed",
          feed.wireName,
          "permission_denied",
          feed == Watcher.Feed.CLUSTER
              ? "The cluster feed needs the admin key"
              : "This credential may not watch the generations feed: it needs the 'watch' scope"
                  + " and must not be a token for one generation or session");
      return;
    }
    if (watching.containsKey(feed)) {
      connection.error(
          "feed", feed.wireName, "already_watching", "This socket already watches this feed");
      return;
    }
    Object filter = frame.getValue("filter");
    String model = null;
    Map<String, String> metadata = new LinkedHashMap<>();
    if (filter != null) {
      if (!(filter instanceof JsonObject f) || feed == Watcher.Feed.CLUSTER) {
        invalid(feed, "'filter' must be an object (generations feed only): {model, metadata}");
        return;
      }
      for (String key : f.fieldNames()) {
        if (!FILTER_KEYS.contains(key)) {
          invalid(feed, "Unknown filter key '" + key + "': expected model or metadata");
          return;
        }
      }
      Object m = f.getValue("model");
      if (m != null && !(m instanceof String)) {
        invalid(feed, "filter.model must be a string");
        return;
      }
      model = (String) m;
      Object tags = f.getValue("metadata");
      if (tags != null) {
        if (!(tags instanceof JsonObject t)) {
          invalid(feed, "filter.metadata must be an object of string values");
          return;
        }
        for (String key : t.fieldNames()) {
          if (!(t.getValue(key) instanceof String value)) {
            invalid(feed, "filter.metadata." + key + " must be a string");
            return;
          }
          metadata.put(key, value);
        }
      }
    }
    if (connection.full("feed", feed.wireName)) {
      return;
    }
    ConnectionWriter writer = connection.writer();
    watching.put(
        feed,
        board.watch(
            feed,
            caller,
            model,
            metadata,
            new Watcher.Sink() {
              @Override
              public boolean full() {
                return writer.queueFull();
              }

              @Override
              public void write(Buffer frame) {
                writer.write(frame);
              }

              @Override
              public void whenDrained(Runnable action) {
                writer.whenDrained(action);
              }

              @Override
              public boolean closed() {
                return connection.closed();
              }
            }));
  }

  void unwatch(JsonObject frame) {
    Watcher.Feed feed = feed(frame);
    if (feed == null) {
      return;
    }
    Watcher watcher = watching.remove(feed);
    if (watcher == null) {
      connection.error("feed", feed.wireName, "not_watching", "This socket does not watch it");
      return;
    }
    board.unwatch(watcher);
    connection.send(new JsonObject().put("type", "unwatched").put("feed", feed.wireName));
  }

  void closeAll() {
    watching.values().forEach(board::unwatch);
    watching.clear();
  }

  private static boolean mayWatchGenerations(Principal caller) {
    return caller.may(Scope.WATCH) && caller.grant() == null;
  }

  private Watcher.Feed feed(JsonObject frame) {
    Object name = frame.getValue("feed");
    for (Watcher.Feed feed : Watcher.Feed.values()) {
      if (feed.wireName.equals(name)) {
        return feed;
      }
    }
    connection.error(
        null, null, "invalid_frame", "'feed' must be \"generations\" or \"cluster\", got " + name);
    return null;
  }

  private void invalid(Watcher.Feed feed, String message) {
    connection.error("feed", feed.wireName, "invalid_frame", message);
  }
}
