package io.tokenbus.ui;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.provider.MockText;
import io.tokenbus.support.Browser;
import io.tokenbus.support.TestCluster;
import io.tokenbus.support.TestHub;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.openqa.selenium.By;
import org.openqa.selenium.WebDriver;

/**
 * The dashboard page ({@code /dashboard}) in real headless Chromium against real hubs: it watches
 * the cluster and generations feeds on one WebSocket and shows what they say.
 */
@ExtendWith(VertxExtension.class)
@DisplayName("Dashboard page in a browser: nodes, tokens per second, running generations, streams")
class DashboardPageTest {

  private static final String KEY = "sk-acme-1234567890abcdef";
  private static final String ADMIN = "sk-admin-1234567890abcdef";
  private static final int PAGE_SECONDS = 15;

  /** The running table's rows on the current page, each as its id and its cells' text. */
  private static final String ROWS =
      """
      return Array.from(document.querySelectorAll('#running-rows tr')).map(r => ({
        id: r.dataset.id, cells: Array.from(r.cells).map(c => c.textContent)}));""";

  /** The nodes the page shows. */
  private static final String NODES =
      "return Array.from(document.querySelectorAll('#nodes .node')).map(n => n.dataset.node);";

  /**
   * How many pixels of the chart are painted in its upper four fifths: only a line above zero
   * reaches there (the chart's top is at least the highest point).
   */
  private static final String CHART_PIXELS_ABOVE_ZERO =
      """
      const canvas = document.getElementById('rate-chart');
      if (canvas.width === 0 || canvas.height === 0) return 0;
      const rows = Math.floor(canvas.height * 0.8);
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, rows).data;
      let painted = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
      return painted;""";

  private final List<Browser> browsers = new ArrayList<>();

  @AfterEach
  void closeBrowsers() {
    browsers.forEach(Browser::close);
  }

  @Test
  @DisplayName(
      "with auth on, the page asks for the admin key, then shows the node, and a generation that"
          + " appears, streams its text when clicked, and leaves; the chart draws its tokens per second")
  void generationLifecycle(Vertx vertx) {
    TestHub hub =
        await(
            TestHub.start(
                vertx, Map.of("TOKENBUS_API_KEYS", "acme:" + KEY, "TOKENBUS_ADMIN_KEY", ADMIN)));
    var served = await(hub.get("/dashboard"));
    assertEquals(200, served.statusCode());
    assertTrue(
        served.getHeader("Content-Type").startsWith("text/html"), served.headers().toString());
    assertTrue(
        served.getHeader("Content-Security-Policy").contains("script-src 'self'"),
        "the chat page's CSP: " + served.headers());
    Browser browser = browser(1280, 900);
    browser.open("http://127.0.0.1:" + hub.port() + "/dashboard");

    browser.waitUntil(
        d -> d.findElement(By.id("key-form")).isDisplayed(),
        PAGE_SECONDS,
        "the page asks for a key");
    assertFalse(browser.driver().findElement(By.id("board")).isDisplayed(), "nothing shown yet");
    enterKey(browser, "sk-wrong-1234567890abcdef");
    browser.waitUntil(
        d -> text(d, "#key-error").contains("refused"), PAGE_SECONDS, "a wrong key is refused");
    enterKey(browser, ADMIN);
    String node = hub.node().id();
    browser.waitUntil(d -> nodes(browser).contains(node), PAGE_SECONDS, "the node shows: " + node);
    assertFalse(browser.driver().findElement(By.id("key-panel")).isDisplayed());
    assertEquals(ADMIN, browser.script("return sessionStorage.getItem('tokenbus.dashboard.key')"));
    assertKeyNowhereOnThePage(browser);

    // A tenant's generation: the admin key sees every tenant's.
    String id = await(startGeneration(hub, KEY, TestHub.mockRequest(60, 10)));
    List<String> cells =
        browser.waitUntil(
            d -> row(browser, id), PAGE_SECONDS, "generation " + id + " is in the running table");
    assertEquals("mock", cells.get(0), "model: " + cells);
    assertEquals("acme", cells.get(1), "tenant: " + cells);
    assertEquals(node, cells.get(2), "node: " + cells);

    browser.driver().findElement(By.cssSelector("#running-rows tr[data-id='" + id + "']")).click();
    browser.waitUntil(
        d ->
            !text(d, "#stream-text").isEmpty()
                && "streaming".equals(streamState(browser))
                && row(browser, id) != null,
        PAGE_SECONDS,
        "its text streams while it runs");
    browser.waitUntil(d -> "done".equals(streamState(browser)), 30, "its stream ends with done");
    assertEquals(
        MockText.text(60),
        browser.script("return document.getElementById('stream-text').textContent"),
        "the whole answer, once, in order");
    browser.waitUntil(d -> row(browser, id) == null, PAGE_SECONDS, "it leaves the running table");
    browser.waitUntil(
        d -> ((Number) browser.script(CHART_PIXELS_ABOVE_ZERO)).longValue() > 0,
        PAGE_SECONDS,
        "the tokens per second chart drew the generation's tokens");

    // One that ends otherwise than completed is listed under recent errors.
    String cancelled = await(startGeneration(hub, KEY, TestHub.mockRequest(200, 10)));
    browser.waitUntil(d -> row(browser, cancelled), PAGE_SECONDS, "the second generation shows");
    var cancel =
        await(
            hub.web()
                .post("/v1/generations/" + cancelled + "/cancel")
                .putHeader("Authorization", "Bearer " + KEY)
                .send());
    assertEquals(200, cancel.statusCode(), cancel.bodyAsString());
    browser.waitUntil(
        d ->
            !d.findElements(
                    By.cssSelector(
                        "#events li[data-id='" + cancelled + "'][data-kind='cancelled']"))
                .isEmpty(),
        PAGE_SECONDS,
        "the cancelled generation is listed under recent errors");
    browser.waitUntil(
        d -> row(browser, cancelled) == null, PAGE_SECONDS, "and leaves the running table");
    browser.screenshot("dashboard-generation");

    // The key is kept for this tab: a reload goes straight to the board.
    browser.driver().navigate().refresh();
    browser.waitUntil(
        d -> nodes(browser).contains(node), PAGE_SECONDS, "after a reload the node shows again");
    assertFalse(browser.driver().findElement(By.id("key-panel")).isDisplayed(), "no key asked");
    assertKeyNowhereOnThePage(browser);
  }

  @Test
  @DisplayName(
      "under load (sixty generations at 20 tokens/s) the table pages by fifty; on a phone's 390 px"
          + " the page is one column and nothing overflows it")
  void underLoadOnDesktopAndPhone(Vertx vertx) {
    // Nobody watches most of them: they must not be cancelled as idle meanwhile.
    TestHub hub =
        await(TestHub.start(vertx, Map.of("TOKENBUS_GENERATION_IDLE_CANCEL_SECONDS", "0")));
    String page = "http://127.0.0.1:" + hub.port() + "/dashboard";
    List<Future<String>> started = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      started.add(startGeneration(hub, null, TestHub.mockRequest(1200, 20)));
    }
    Set<String> ids = Set.copyOf(await(Future.all(started)).list());

    Browser desktop = browser(1280, 900);
    desktop.open(page);
    desktop.waitUntil(
        d -> text(d, "#page-info").equals("1–50 of 60"), PAGE_SECONDS, "the first page of 60");
    List<String> first = rowIds(desktop);
    assertEquals(50, first.size(), "fifty rows on a page");
    desktop.driver().findElement(By.id("next")).click();
    desktop.waitUntil(
        d -> text(d, "#page-info").equals("51–60 of 60"), PAGE_SECONDS, "the second page");
    List<String> second = rowIds(desktop);
    assertEquals(10, second.size());
    Set<String> shown = new HashSet<>(first);
    shown.addAll(second);
    assertEquals(ids, shown, "the two pages show every running generation once");
    desktop.driver().findElement(By.id("prev")).click();
    desktop.waitUntil(d -> text(d, "#page-info").startsWith("1–50"), PAGE_SECONDS, "page one");
    desktop
        .driver()
        .findElement(By.cssSelector("#running-rows tr[data-id='" + first.get(0) + "']"))
        .click();
    desktop.waitUntil(
        d -> text(d, "#stream-text").length() > 40, PAGE_SECONDS, "the chosen one streams");
    desktop.waitUntil(
        d -> ((Number) desktop.script(CHART_PIXELS_ABOVE_ZERO)).longValue() > 0,
        PAGE_SECONDS,
        "the chart shows the load");
    desktop.script("window.scrollTo(0, 0)");
    desktop.screenshot("dashboard-desktop");

    Browser phone = browser(390, 844);
    phone.viewport(390, 844, true);
    phone.open(page);
    phone.waitUntil(d -> rowIds(phone).size() == 50, PAGE_SECONDS, "the phone shows the table");
    phone.waitUntil(d -> !nodes(phone).isEmpty(), PAGE_SECONDS, "the phone shows the node");
    phone.waitUntil(
        d -> ((Number) phone.script(CHART_PIXELS_ABOVE_ZERO)).longValue() > 0,
        PAGE_SECONDS,
        "the phone's chart shows the load");
    @SuppressWarnings("unchecked")
    Map<String, Number> widths =
        (Map<String, Number>)
            phone.script(
                """
                return {inner: window.innerWidth, page: document.documentElement.scrollWidth,
                  body: document.body.scrollWidth,
                  cards: new Set(Array.from(document.querySelectorAll('.card'))
                    .map(c => Math.round(c.getBoundingClientRect().left))).size};""");
    assertEquals(390, widths.get("inner").intValue(), "a phone's viewport: " + widths);
    assertTrue(
        widths.get("page").intValue() <= 390 && widths.get("body").intValue() <= 390,
        "nothing overflows the page sideways: " + widths);
    assertEquals(1, widths.get("cards").intValue(), "one column of cards: " + widths);
    phone.screenshot("dashboard-phone");
  }

  @Test
  @DisplayName("a node of a three-node cluster that stops disappears from the page")
  void stoppedNodeDisappears() {
    try (TestCluster cluster = new TestCluster(3)) {
      int port = cluster.start(0);
      cluster.start(1);
      cluster.start(2);
      List<String> all = List.of(0, 1, 2).stream().map(i -> cluster.node(i).id()).toList();
      Browser browser = browser(1280, 900);
      browser.open("http://127.0.0.1:" + port + "/dashboard");
      browser.waitUntil(
          d -> Set.copyOf(nodes(browser)).equals(Set.copyOf(all)),
          30,
          "the three nodes show: " + all);
      cluster.stop(2);
      browser.waitUntil(
          d -> !nodes(browser).contains(all.get(2)), 30, "the stopped node disappears");
      assertEquals(Set.copyOf(all.subList(0, 2)), Set.copyOf(nodes(browser)), "the other two stay");
      browser.screenshot("dashboard-node-gone");
    }
  }

  // ---- steps ----

  private Browser browser(int width, int height) {
    Browser browser = Browser.start(width, height);
    browsers.add(browser);
    return browser;
  }

  private static void enterKey(Browser browser, String key) {
    browser.driver().findElement(By.id("key")).sendKeys(key);
    browser.driver().findElement(By.id("key-submit")).click();
  }

  private static void assertKeyNowhereOnThePage(Browser browser) {
    assertFalse(browser.driver().getCurrentUrl().contains(ADMIN), "the key is not in the URL");
    assertFalse(browser.driver().getPageSource().contains(ADMIN), "the key is not in the DOM");
    assertEquals("", browser.script("return document.getElementById('key').value"));
    assertTrue(
        browser.driver().manage().logs().get("browser").getAll().stream()
            .noneMatch(entry -> entry.getMessage().contains(ADMIN)),
        "the key is not in the console");
  }

  /** Starts a generation with {@code key} (null: auth is off); completes with its id. */
  private static Future<String> startGeneration(TestHub hub, String key, JsonObject request) {
    var post = hub.web().post("/v1/generations");
    if (key != null) {
      post.putHeader("Authorization", "Bearer " + key);
    }
    return post.sendJsonObject(request)
        .map(
            response -> {
              assertEquals(201, response.statusCode(), response.bodyAsString());
              return response.bodyAsJsonObject().getString("id");
            });
  }

  private static String text(WebDriver driver, String css) {
    return driver.findElement(By.cssSelector(css)).getText().trim();
  }

  private static String streamState(Browser browser) {
    return (String)
        browser.script("return document.querySelector('.stream-card').dataset.state || ''");
  }

  @SuppressWarnings("unchecked")
  private static List<String> nodes(Browser browser) {
    return (List<String>) browser.script(NODES);
  }

  @SuppressWarnings("unchecked")
  private static List<String> rowIds(Browser browser) {
    return ((List<Map<String, Object>>) browser.script(ROWS))
        .stream().map(r -> (String) r.get("id")).toList();
  }

  /** The cells of generation {@code id}'s row, or null when the table does not show it. */
  @SuppressWarnings("unchecked")
  private static List<String> row(Browser browser, String id) {
    return ((List<Map<String, Object>>) browser.script(ROWS))
        .stream()
            .filter(r -> id.equals(r.get("id")))
            .map(r -> (List<String>) r.get("cells"))
            .findFirst()
            .orElse(null);
  }
}
