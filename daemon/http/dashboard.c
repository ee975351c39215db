/* GET /: the dashboard, one page compiled into the binary (no CDN, no external file). It polls
 * the JSON endpoints every 3 s: /v1/summary (pins and bytes by type and backend), /health,
 * /v1/tables/backend_health and /v1/tables/metrics, and draws simple bars. The newest changes
 * arrive live over the WebSocket change feed (/v1/changes/ws, JSON frames) from the version
 * the page first read; each one refreshes the counts (at most every 250 ms), a dropped feed
 * reconnects from the last version seen, and one told its version is gone (4410) starts again
 * from the current one. Text goes in with textContent only, so a pin name or backend name can
 * never become markup. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"

static const char page_head[] =
    "<!doctype html>\n"
    "<html lang=\"en\"><head><meta charset=\"utf-8\"><title>ipfs-kit</title>\n"
    "<style>body{font:14px system-ui,sans-serif;margin:2em;color:#222}"
    "h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}"
    "table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left}"
    ".bar{background:#4a7;height:10px;display:inline-block}"
    ".ok{color:#282}.down{color:#c22}.degraded{color:#c80}#err{color:#c22}</style>\n"
    "</head><body>\n"
    "<h1>ipfs-kit <span id=\"version\"></span></h1>\n"
    "<div>status <b id=\"status\">…</b> · <span id=\"pins\">0</span> pins · snapshot "
    "<span id=\"snapshot\">-</span> · up <span id=\"uptime\">-</span> s <span "
    "id=\"err\"></span></div>\n"
    "<h2>Newest changes <small id=\"live\">connecting</small></h2>"
    "<table id=\"changes\"><tr><th>version</th><th>op</th><th>cid</th><th>name</th>"
    "<th>type</th><th>backend</th></tr></table>\n"
    "<h2>Pins by type</h2><table id=\"by_type\"></table>\n"
    "<h2>Pins by backend</h2><table id=\"by_backend\"></table>\n"
    "<h2>Backend health</h2><table id=\"health\"></table>\n"
    "<h2>Metrics</h2><table id=\"metrics\"></table>\n"
    "<script>\n";

/* The script, in two parts: C11 promises string literals of 4095 bytes, no more. */
static const char page_counts[] =
    "'use strict';\n"
    "function row(t,cells){const tr=document.createElement('tr');for(const c of cells){"
    "const td=document.createElement('td');if(c instanceof Node)td.appendChild(c);"
    "else td.textContent=String(c);tr.appendChild(td);}t.appendChild(tr);return tr;}\n"
    "function v(x){return x===null||x===undefined?'':x;}\n"
    "function bar(frac){const s=document.createElement('span');s.className='bar';"
    "s.style.width=Math.round(200*frac)+'px';return s;}\n"
    "function counts(id,obj,total){const t=document.getElementById(id);t.replaceChildren();"
    "row(t,['','pins','bytes','']);for(const k of Object.keys(obj).sort()){"
    "const tr=row(t,[k,obj[k].pins,obj[k].bytes,bar(total?obj[k].pins/total:0)]);"
    "tr.dataset.key=k;tr.className='count';}}\n"
    "async function json(u){const r=await fetch(u,{headers:{Accept:'application/json'}});"
    "if(!r.ok)throw new Error(u+': '+r.status);return r.json();}\n"
    "async function tick(){try{\n"
    "const h=await json('/health');\n"
    "document.getElementById('status').textContent=h.status;\n"
    "document.getElementById('version').textContent=h.version;\n"
    "document.getElementById('snapshot').textContent=h.snapshot_version;\n"
    "document.getElementById('uptime').textContent=Math.round(h.uptime_s);\n"
    "const s=await json('/v1/summary');\n"
    "document.getElementById('pins').textContent=s.pins;\n"
    "counts('by_type',s.by_type,s.pins);counts('by_backend',s.by_backend,s.pins);\n"
    "const bh=await json('/v1/tables/backend_health');const t=document.getElementById('health');"
    "t.replaceChildren();row(t,['backend','status','ms','errors']);\n"
    "for(const b of bh){const tr=row(t,[b.backend_name,b.status,v(b.response_time_ms),"
    "v(b.error_count)]);tr.cells[1].className=b.status;}\n"
    "const m=await json('/v1/tables/metrics');const mt=document.getElementById('metrics');"
    "mt.replaceChildren();\n"
    "for(const x of m){if(x.tags&&x.metric_name!=='daemon_info')continue;"
    "row(mt,[x.metric_name+(x.metric_type.startsWith('histogram')?' '+x.metric_type:''),"
    "v(x.metric_value)]);}\n"
    "document.getElementById('err').textContent='';\n"
    "}catch(e){document.getElementById('err').textContent=String(e);}}\n"
    "";

static const char page_live[] =
    "let since=null,soon=null;const MAX=20;\n"
    "function later(){if(!soon)soon=setTimeout(()=>{soon=null;tick();},250);}\n"
    "function change(c){const t=document.getElementById('changes');"
    "const tr=document.createElement('tr');tr.className='change';tr.dataset.cid=c.cid;"
    "for(const x of [c.version,c.op,c.cid,v(c.name),v(c.pin_type),v(c.backend)]){"
    "const td=document.createElement('td');td.textContent=String(x);tr.appendChild(td);}"
    "t.insertBefore(tr,t.rows[1]||null);while(t.rows.length>MAX+1)t.deleteRow(-1);"
    "since=Math.max(since,c.version);later();}\n"
    "async function follow(){try{if(since===null)since=(await json('/health'))"
    ".snapshot_version;}catch(e){setTimeout(follow,1000);return;}\n"
    "const p=location.protocol==='https:'?'wss:':'ws:';"
    "const ws=new WebSocket(p+'//'+location.host+'/v1/changes/ws?format=json&since='+since);\n"
    "const live=document.getElementById('live');\n"
    "ws.onopen=()=>{live.textContent='live';};\n"
    "ws.onmessage=(e)=>{try{change(JSON.parse(e.data));}catch(x){}};\n"
    "ws.onclose=(e)=>{live.textContent='reconnecting ('+e.code+')';"
    "if(e.code===4410)since=null;setTimeout(follow,1000);};}\n"
    "tick();setInterval(tick,3000);follow();\n"
    "</script></body></html>\n";

static char *page;
static size_t page_len;

static void assemble(void)
{
    size_t a = strlen(page_head), b = strlen(page_counts), c = strlen(page_live);
    if ((page = malloc(a + b + c + 1)) == NULL)
        return;
    memcpy(page, page_head, a);
    memcpy(page + a, page_counts, b);
    memcpy(page + a + b, page_live, c + 1);
    page_len = a + b + c;
}

const char *ik__http_dashboard(size_t *len)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, assemble);
    *len = page_len;
    return page;
}
