package io.tokenbus.support;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A tokenbus node as a real process, started as users start it ({@code bin/tokenbus}, on this
 * test's JVM with a 512 MB heap) with an environment, its output copied to {@code
 * target/it-logs/<name>.log}. Ready when it logs that it listens.
 */
public final class NodeProcess implements AutoCloseable {

  private static final Pattern LISTENING =
      Pattern.compile("tokenbus listening on https?://[^:]+:(\\d+)");
  private static final AtomicInteger SEQUENCE = new AtomicInteger();

  /**
   * Tells the logs of one test JVM from the next: they stay in target/it-logs for a post-mortem.
   */
  private static final String RUN = LocalTime.now().toString().replace(':', '-').replace('.', '-');

  private final String name;
  private final Process process;
  private volatile int httpPort;
  private final Promise<Void> ready = Promise.promise();

  /** The node's output so far, and the promises of lines not printed yet. */
  private final List<String> output = new ArrayList<>();

  private final Map<Predicate<String>, Promise<String>> awaited = new LinkedHashMap<>();

  private NodeProcess(String name, Process process) {
    this.name = name;
    this.process = process;
  }

  public static NodeProcess start(String name, Map<String, String> env) throws IOException {
    Path jar = Path.of("target", "tokenbus.jar");
    if (!Files.isRegularFile(jar)) {
      throw new IllegalStateException(
          "target/tokenbus.jar is missing: run the integration tests with mvn verify");
    }
    ProcessBuilder builder = new ProcessBuilder("bin/tokenbus").redirectErrorStream(true);
    builder
        .environment()
        .keySet()
        .removeIf(k -> k.startsWith("TOKENBUS_") || k.startsWith("OPENAI_"));
    builder.environment().putAll(env);
    builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
    // JVM flags of the test's own (JAVA_OPTS in env) come after the heap size.
    builder
        .environment()
        .put("JAVA_OPTS", ("-Xmx512m " + env.getOrDefault("JAVA_OPTS", "")).trim());
    // The node logs the port it got, unless the test chose one.
    builder.environment().putIfAbsent("TOKENBUS_HTTP_PORT", "0");
    builder.environment().put("TOKENBUS_HTTP_HOST", "127.0.0.1");
    NodeProcess node = new NodeProcess(name + "-" + SEQUENCE.incrementAndGet(), builder.start());
    node.pump(Path.of("target", "it-logs", RUN + "-" + node.name + ".log"));
    return node;
  }

  private void pump(Path log) throws IOException {
    Files.createDirectories(log.getParent());
    PrintWriter out = new PrintWriter(Files.newBufferedWriter(log, StandardCharsets.UTF_8), true);
    Thread thread =
        new Thread(
            () -> {
              try (BufferedReader in =
                  new BufferedReader(
                      new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                  out.println(line);
                  printed(line);
                  Matcher listening = LISTENING.matcher(line);
                  if (listening.find()) {
                    httpPort = Integer.parseInt(listening.group(1));
                    ready.tryComplete();
                  }
                }
              } catch (IOException e) {
                // the process is gone
              } finally {
                out.close();
                ready.tryFail(name + " stopped before it was ready; see its log in target/it-logs");
              }
            },
            "output-" + name);
    thread.setDaemon(true);
    thread.start();
  }

  private synchronized void printed(String line) {
    output.add(line);
    Iterator<Map.Entry<Predicate<String>, Promise<String>>> waiting = awaited.entrySet().iterator();
    while (waiting.hasNext()) {
      Map.Entry<Predicate<String>, Promise<String>> entry = waiting.next();
      if (entry.getKey().test(line)) {
        entry.getValue().complete(line);
        waiting.remove();
      }
    }
  }

  /**
   * Completes with the first line of the node's output that matches, printed already or to come.
   */
  public synchronized Future<String> printed(Predicate<String> match) {
    for (String line : output) {
      if (match.test(line)) {
        return Future.succeededFuture(line);
      }
    }
    Promise<String> line = Promise.promise();
    awaited.put(match, line);
    return line.future();
  }

  /** The lines of the node's output so far that match. */
  public synchronized List<String> lines(Predicate<String> match) {
    return output.stream().filter(match).toList();
  }

  /** Completes once the node serves HTTP. */
  public Future<Void> ready() {
    return ready.future();
  }

  /** The node's process id, for the JDK's tools (jcmd). */
  public long pid() {
    return process.pid();
  }

  public int httpPort() {
    return httpPort;
  }

  public String name() {
    return name;
  }

  /** SIGKILL: no shutdown hook, no goodbye to the cluster. */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
  }

  /** Sends SIGTERM and returns at once; {@link #exited()} completes when the process is gone. */
  public void sigterm() {
    process.destroy();
  }

  /** Completes when the process has exited. */
  public java.util.concurrent.CompletableFuture<Process> exited() {
    return process.onExit();
  }

  /** SIGTERM: a graceful shutdown. */
  public boolean terminate(int seconds) throws InterruptedException {
    process.destroy();
    return process.waitFor(seconds, TimeUnit.SECONDS);
  }

  @Override
  public void close() {
    process.destroyForcibly();
  }
}
