// Batched UDP receive and send (recvmmsg(2), sendmmsg(2)) for the DNS transport.
//
// Glibc declares recvmmsg and sendmmsg only under _GNU_SOURCE, which Swift's Glibc module does not
// set, so this small C target owns the mmsghdr arrays and exposes an opaque batch instead.

#ifndef ANYDNS_DATAGRAM_BATCH_H
#define ANYDNS_DATAGRAM_BATCH_H

#include <stddef.h>

/// Datagram slots for one UDP worker: a buffer and a peer address per slot, plus the message
/// headers recvmmsg and sendmmsg need. Allocated once; not thread-safe.
typedef struct anydns_datagram_batch anydns_datagram_batch;

/// Allocates `count` slots of `capacity` bytes each; NULL if out of memory.
anydns_datagram_batch *anydns_batch_create(unsigned count, size_t capacity);
void anydns_batch_destroy(anydns_datagram_batch *batch);

/// Receives up to the batch's slot count of datagrams without blocking. Returns how many arrived
/// (0 when none is waiting) or -1 with errno set. Starts a new batch of replies.
int anydns_batch_receive(anydns_datagram_batch *batch, int fd);

/// Slot `index`'s buffer; `*length` is the received datagram's length. Returns NULL when the
/// datagram was longer than the slot (MSG_TRUNC), so the caller can drop it.
unsigned char *anydns_batch_datagram(anydns_datagram_batch *batch, unsigned index, size_t *length);

/// Slot `index`'s sender, a `struct sockaddr_in` or `struct sockaddr_in6`.
const void *anydns_batch_peer(const anydns_datagram_batch *batch, unsigned index);

/// Queues the first `length` bytes of slot `index`'s buffer as a reply to that slot's sender.
void anydns_batch_queue_reply(anydns_datagram_batch *batch, unsigned index, size_t length);

/// Sends every queued reply with as few sendmmsg calls as possible. A reply the kernel refuses
/// (unreachable peer, full send buffer) is skipped. Returns how many were sent.
int anydns_batch_send(anydns_datagram_batch *batch, int fd);

#endif
