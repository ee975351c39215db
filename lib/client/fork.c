/* Fork safety of the client. A child of fork() inherits the parent's pooled connections and
 * the watch connection: if both processes send requests on one socket they read each other's
 * replies or wait forever. So every open client is registered here, and pthread_atfork
 * handlers (installed once) take each client's lock before fork (so no pool or cache is
 * half-updated when the address space is copied), release it afterwards in the parent, and in
 * the child drop what is shared with the parent: the idle connections and the version-page
 * watch. The child then connects afresh on its next query. Mapped snapshots stay: they are
 * read-only file mappings, valid in both processes, as are results already handed out. */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "client_internal.h"
#include "proto/proto.h"

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;
static struct ik_client *reg_head; /* linked through fork_next, guarded by reg_mu */

static void before_fork(void)
{
    pthread_mutex_lock(&reg_mu);
    for (struct ik_client *c = reg_head; c; c = c->fork_next)
        pthread_mutex_lock(&c->mu);
    ik__shared_lock(); /* the registry of mapped states (segcache.c) */
}

static void after_fork_parent(void)
{
    ik__shared_unlock();
    for (struct ik_client *c = reg_head; c; c = c->fork_next)
        pthread_mutex_unlock(&c->mu);
    pthread_mutex_unlock(&reg_mu);
}

/* The child has one thread (this one), which holds every lock taken in before_fork. */
static void after_fork_child(void)
{
    ik__shared_unlock(); /* its states stay: read-only mappings, valid here too */
    for (struct ik_client *c = reg_head; c; c = c->fork_next) {
        for (int i = 0; i < c->n_idle; i++)
            close(c->idle[i]); /* the parent's descriptors stay open */
        c->n_idle = 0;
        if (c->watch) {
            /* no other thread exists here to hold a reference */
            munmap((void *)(uintptr_t)c->watch->page, IK_VPAGE_SIZE);
            close(c->watch->fd);
            free(c->watch);
            c->watch = NULL;
        }
        c->watch_opening = false; /* a parent thread was opening it: not ours */
        pthread_mutex_unlock(&c->mu);
    }
    pthread_mutex_unlock(&reg_mu);
}

static void install(void)
{
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

void ik__fork_register(struct ik_client *c)
{
    pthread_once(&reg_once, install);
    pthread_mutex_lock(&reg_mu);
    c->fork_next = reg_head;
    reg_head = c;
    pthread_mutex_unlock(&reg_mu);
}

void ik__fork_unregister(struct ik_client *c)
{
    pthread_mutex_lock(&reg_mu);
    for (struct ik_client **p = &reg_head; *p; p = &(*p)->fork_next) {
        if (*p == c) {
            *p = c->fork_next;
            break;
        }
    }
    pthread_mutex_unlock(&reg_mu);
}
