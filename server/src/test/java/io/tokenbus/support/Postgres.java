package io.tokenbus.support;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * A real PostgreSQL server of the tests' own: Debian's {@code postgresql} package (which {@code
 * .ci/run} installs), {@code initdb} into a temporary directory and {@code postgres} on a free port
 * of 127.0.0.1, run as the {@code postgres} user (the server refuses root). Nothing depends on a
 * system service. {@link #stop} and {@link #start} take it away and bring it back on the same port
 * with its data; {@link #close} stops it for good and deletes everything, even after a failure.
 */
public final class Postgres implements AutoCloseable {

  /** The user the tests connect as; its password is {@link #PASSWORD}. */
  public static final String USER = "tokenbus";

  public static final String PASSWORD = "tokenbus-test-password";

  private static final AtomicInteger DATABASES = new AtomicInteger();

  private final Path bin;
  private final Path dir;
  private final Path data;
  private final int port;
  private boolean running;

  private Postgres(Path bin, Path dir, int port) {
    this.bin = bin;
    this.dir = dir;
    this.data = dir.resolve("data");
    this.port = port;
  }

  /** Initializes and starts a server, with the user {@link #USER}. */
  public static Postgres start() throws Exception {
    Path bin = binaries();
    Path dir = Files.createTempDirectory("tokenbus-pg");
    run(List.of("chown", "postgres:postgres", dir.toString()), false);
    Postgres pg = new Postgres(bin, dir, freePort());
    try {
      Path pwfile = dir.resolve("pw");
      Files.writeString(pwfile, "postgres-" + PASSWORD + "\n");
      run(List.of("chown", "postgres:postgres", pwfile.toString()), false);
      pg.asPostgres(
          "initdb",
          "-D",
          pg.data.toString(),
          "-U",
          "postgres",
          "--pwfile=" + pwfile,
          "--auth-host=scram-sha-256",
          "--auth-local=trust",
          "--no-sync",
          "-E",
          "UTF8",
          "--locale=C");
      Files.writeString(
          pg.data.resolve("postgresql.conf"),
          // Faster, and as safe as a test needs: the data outlives the server's processes
          // (stop() kills them), not the machine. Commits stay synchronous, so a stopped server
          // keeps every commit it acknowledged.
          "\nfsync = off\nfull_page_writes = off\n",
          java.nio.file.StandardOpenOption.APPEND);
      pg.startServer();
      pg.psql("postgres", "CREATE USER " + USER + " WITH PASSWORD '" + PASSWORD + "'");
      return pg;
    } catch (Exception | Error e) {
      pg.close();
      throw e;
    }
  }

  /** Where Debian's package puts the server's programs (any version). */
  private static Path binaries() throws IOException {
    Path root = Path.of("/usr/lib/postgresql");
    if (Files.isDirectory(root)) {
      try (Stream<Path> versions = Files.list(root)) {
        Path found =
            versions
                .map(v -> v.resolve("bin"))
                .filter(b -> Files.isExecutable(b.resolve("initdb")))
                .max(Comparator.naturalOrder())
                .orElse(null);
        if (found != null) {
          return found;
        }
      }
    }
    throw new IllegalStateException(
        "PostgreSQL is not installed: these tests start their own server with Debian's"
            + " packages (apt-get install -y postgresql); .ci/run installs it");
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  public int port() {
    return port;
  }

  /** One of the server's programs ({@code pg_isready}, {@code pg_dump}, ...). */
  public Path binary(String name) {
    return bin.resolve(name);
  }

  /** A new, empty database owned by {@link #USER}: its name (see {@link #url}). */
  public String newDatabase() throws Exception {
    String name = "tb_" + ProcessHandle.current().pid() + "_" + DATABASES.incrementAndGet();
    psql("postgres", "CREATE DATABASE " + name + " OWNER " + USER);
    return name;
  }

  /** The URL of {@code database}: {@code postgresql://user:password@127.0.0.1:port/db}. */
  public String url(String database) {
    return "postgresql://" + USER + ":" + PASSWORD + "@127.0.0.1:" + port + "/" + database;
  }

  /** Runs {@code sql} in {@code database} as the superuser; its output. */
  public String psql(String database, String sql) throws Exception {
    return asPostgres(
        "psql",
        "-h",
        dir.toString(),
        "-p",
        Integer.toString(port),
        "-d",
        database,
        "-v",
        "ON_ERROR_STOP=1",
        "-At",
        "-c",
        sql);
  }

  private void startServer() throws Exception {
    asPostgres(
        "pg_ctl",
        "-D",
        data.toString(),
        "-w",
        "-t",
        "60",
        "-l",
        dir.resolve("pg.log").toString(),
        "-o",
        "-k " + dir + " -p " + port + " -c listen_addresses=127.0.0.1",
        "start");
    running = true;
  }

  /** Brings the server back, with its data, on the same port. */
  public void restart() throws Exception {
    if (!running) {
      startServer();
    }
  }

  /** Stops the server at once (connections cut, as a crash would), keeping its data. */
  public void stop() throws Exception {
    if (running) {
      running = false;
      asPostgres("pg_ctl", "-D", data.toString(), "-m", "immediate", "-w", "stop");
    }
  }

  @Override
  public void close() {
    try {
      stop();
    } catch (Exception e) {
      killByPid();
    }
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // a temporary directory: left to the OS
    }
  }

  private void killByPid() {
    try {
      String pid = Files.readAllLines(data.resolve("postmaster.pid")).get(0).trim();
      run(List.of("kill", "-9", pid), false);
    } catch (Exception ignored) {
      // nothing left to stop
    }
  }

  private String asPostgres(String program, String... args) throws Exception {
    List<String> command = new ArrayList<>();
    boolean root = "root".equals(System.getProperty("user.name"));
    if (root) {
      command.addAll(List.of("runuser", "-u", "postgres", "--"));
    }
    command.add(bin.resolve(program).toString());
    command.addAll(List.of(args));
    return run(command, true);
  }

  private static String run(List<String> command, boolean check) throws Exception {
    Process process =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .directory(new java.io.File("/tmp"))
            .start();
    process.getOutputStream().close();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!process.waitFor(120, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new IllegalStateException(command.get(0) + " did not finish: " + output);
    }
    if (check && process.exitValue() != 0) {
      throw new IllegalStateException(
          String.join(" ", command) + " exited " + process.exitValue() + ": " + output);
    }
    return output.trim();
  }
}
