// Search the archive in the browser, no server: Pagefind's indexes (one per past year, one
// per month of the newest year, so one new digest re-indexes one month), merged with
// mergeIndex. Result URLs are made from the page's own location, so the same files work
// under `newsletter serve`, on a GitHub Pages project path and from any base URL.
const box = document.querySelector("[data-search-indexes]");
const form = box.querySelector("form");
const input = form.querySelector("input[name=q]");
const status = document.getElementById("search-status");
const list = document.getElementById("search-results");
const root = new URL(box.dataset.searchRoot, location.href).pathname;
const indexes = box.dataset.searchIndexes.split(" ").filter(Boolean);
const SHOWN = 20;
const PARTS_SHOWN = 3;
let engine = null;

async function loadEngine() {
  if (engine === null) {
    const bundle = (name) => `${root}pagefind/${name}/`;
    const pagefind = await import(bundle(indexes[0]) + "pagefind.js");
    await pagefind.options({ baseUrl: root });
    for (const name of indexes.slice(1)) {
      await pagefind.mergeIndex(bundle(name), { baseUrl: root });
    }
    engine = pagefind;
  }
  return engine;
}

function link(href, text) {
  const anchor = document.createElement("a");
  anchor.href = href;
  anchor.textContent = text;
  return anchor;
}

function excerpt(html) {
  // Pagefind's excerpts are escaped text with <mark> around the words found.
  const paragraph = document.createElement("p");
  paragraph.className = "search-excerpt";
  paragraph.innerHTML = html;
  return paragraph;
}

function resultItem(data) {
  const item = document.createElement("li");
  const title = document.createElement("h2");
  title.append(link(data.url, data.meta.title));
  item.append(title, excerpt(data.excerpt));
  const parts = (data.sub_results || []).filter((part) => part.url !== data.url);
  if (parts.length) {
    const papers = document.createElement("ul");
    papers.className = "search-papers";
    for (const part of parts.slice(0, PARTS_SHOWN)) {
      const paper = document.createElement("li");
      paper.append(link(part.url, part.title));
      papers.append(paper);
    }
    item.append(papers);
  }
  return item;
}

async function search(query) {
  list.replaceChildren();
  if (!query.trim()) {
    status.textContent = "";
    return;
  }
  if (!indexes.length) {
    status.textContent = "아직 검색할 호가 없습니다.";
    return;
  }
  status.textContent = "찾는 중…";
  let found;
  try {
    found = await (await loadEngine()).search(query);
  } catch (error) {
    status.textContent = "검색 색인을 불러오지 못했습니다 (newsletter build --no-search로 만든 사이트일 수 있습니다).";
    return;
  }
  const results = await Promise.all(found.results.slice(0, SHOWN).map((r) => r.data()));
  if (input.value !== query) return; // a newer search has started
  list.replaceChildren(...results.map(resultItem));
  const total = found.results.length;
  status.textContent = total === 0
    ? `“${query}”: 찾은 호가 없습니다.`
    : `“${query}”: ${total}개 호에서 찾았습니다${total > SHOWN ? ` (관련도 순 ${SHOWN}개 표시)` : ""}.`;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const url = new URL(location.href);
  url.searchParams.set("q", input.value);
  history.replaceState(null, "", url);
  search(input.value);
});

const initial = new URLSearchParams(location.search).get("q") || "";
input.value = initial;
search(initial);
