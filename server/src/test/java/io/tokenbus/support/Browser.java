package io.tokenbus.support;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TimeoutException;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebDriverException;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * One isolated headless Chromium (its own fresh profile, so one browser is one user), driven
 * through Debian's chromedriver, offline: Selenium Manager is never asked for a driver or a
 * browser.
 */
public final class Browser implements AutoCloseable {

  public static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  public static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
  public static final Path SCREENSHOTS = Path.of("target", "screenshots");
  private static final Path PROFILES = Path.of("target", "browser-profiles");
  private static final Duration POLL = Duration.ofMillis(50);
  // Maven Central serves no devtools artifacts for this Chromium; the tests use WebDriver alone, so
  // the
  // "Unable to find CDP implementation" warning at every start is noise. Held: JUL loggers are
  // weak.
  private static final Logger CDP_LOG = quiet("org.openqa.selenium.devtools.CdpVersionFinder");

  private final ChromeDriver driver;
  private final Path profile;

  private Browser(ChromeDriver driver, Path profile) {
    this.driver = driver;
    this.profile = profile;
  }

  private static Logger quiet(String name) {
    Logger logger = Logger.getLogger(name);
    logger.setLevel(Level.SEVERE);
    return logger;
  }

  /** A desktop-sized browser. */
  public static Browser start() {
    return start(1280, 900);
  }

  /**
   * A browser whose window is {@code width} x {@code height} (see {@link #viewport} for an exact
   * viewport).
   */
  public static Browser start(int width, int height) {
    requireInstalled();
    // Selenium looks at this property before it would run Selenium Manager (which downloads
    // drivers).
    System.setProperty(ChromeDriverService.CHROME_DRIVER_EXE_PROPERTY, CHROMEDRIVER.toString());
    Path profile;
    try {
      Files.createDirectories(PROFILES);
      profile = Files.createTempDirectory(PROFILES.toAbsolutePath(), "chromium-");
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot create a browser profile under " + PROFILES.toAbsolutePath(), e);
    }
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    options.addArguments(
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--password-store=basic",
        // Only the hub on loopback resolves: Chromium otherwise still looks up Google's hosts.
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost",
        "--window-size=" + width + "," + height,
        "--user-data-dir=" + profile);
    ChromeDriverService service =
        new ChromeDriverService.Builder()
            .usingDriverExecutable(
                CHROMEDRIVER.toFile()) // an explicit driver: Selenium Manager is skipped
            .usingAnyFreePort()
            .withLogOutput(OutputStream.nullOutputStream())
            .build();
    try {
      return new Browser(new ChromeDriver(service, options), profile);
    } catch (RuntimeException e) {
      service.stop();
      delete(profile);
      throw new AssertionError(
          "Chromium did not start through " + CHROMEDRIVER + ": " + e.getMessage(), e);
    }
  }

  /**
   * A missing browser fails the test in CI ({@code CI=true}, where .ci/run installs it): a broken
   * test environment is never a reason to pass. On a developer's machine without it, the browser
   * tests are skipped, saying how to install it, so the README's test command runs on a fresh one.
   */
  private static void requireInstalled() {
    for (Path binary : List.of(CHROMIUM, CHROMEDRIVER)) {
      if (!Files.isExecutable(binary)) {
        String message =
            binary
                + " is missing: the browser tests drive Debian's Chromium through its chromedriver. "
                + "Install both with: apt-get update && apt-get install -y chromium chromium-driver";
        if ("true".equals(System.getenv("CI"))) {
          throw new AssertionError(message);
        }
        System.err.println("SKIPPED browser test: " + message);
        Assumptions.abort(message);
      }
    }
  }

  public WebDriver driver() {
    return driver;
  }

  public void open(String url) {
    driver.get(url);
  }

  /**
   * Runs {@code script} in the page (its {@code arguments} are {@code args}) and returns its
   * result.
   */
  public Object script(String script, Object... args) {
    return ((JavascriptExecutor) driver).executeScript(script, args);
  }

  /**
   * Makes the viewport exactly {@code width} x {@code height} CSS pixels, as a phone's when {@code
   * mobile} (the page's viewport meta tag then applies). Through chromedriver's CDP endpoint, which
   * needs no devtools artifacts; a window size would include the headless window's invisible
   * toolbars.
   */
  public void viewport(int width, int height, boolean mobile) {
    driver.executeCdpCommand(
        "Emulation.setDeviceMetricsOverride",
        Map.of("width", width, "height", height, "deviceScaleFactor", 1, "mobile", mobile));
  }

  /**
   * Waits until {@code condition} returns something other than null or false, re-checking every 50
   * ms; on timeout, saves a screenshot and fails naming {@code what}.
   */
  public <T> T waitUntil(Function<WebDriver, T> condition, int seconds, String what) {
    try {
      return new WebDriverWait(driver, Duration.ofSeconds(seconds), POLL)
          .withMessage(what)
          .until(condition);
    } catch (TimeoutException e) {
      String shot = "timeout-" + what.replaceAll("[^A-Za-z0-9]+", "-");
      throw new AssertionError(
          what
              + ": not reached within "
              + seconds
              + " s (screenshot "
              + screenshotQuietly(shot)
              + ")",
          e);
    }
  }

  /** Saves the viewport as {@code target/screenshots/<name>.png} and returns the file. */
  public Path screenshot(String name) {
    try {
      Files.createDirectories(SCREENSHOTS);
      Path file = SCREENSHOTS.resolve(name.endsWith(".png") ? name : name + ".png");
      return Files.write(file, driver.getScreenshotAs(OutputType.BYTES));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot save screenshot " + name, e);
    }
  }

  private String screenshotQuietly(String name) {
    try {
      return screenshot(name).toString();
    } catch (RuntimeException e) {
      return "failed: " + e.getMessage();
    }
  }

  @Override
  public void close() {
    try {
      driver.quit(); // also stops the chromedriver service
    } catch (WebDriverException e) {
      // already gone: nothing to release but the profile
    } finally {
      delete(profile);
    }
  }

  private static void delete(Path dir) {
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
    } catch (IOException | UncheckedIOException e) {
      // a leftover profile under target/ is harmless
    }
  }
}
