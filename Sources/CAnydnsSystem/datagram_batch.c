#define _GNU_SOURCE
#include "datagram_batch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

struct anydns_datagram_batch {
    unsigned count;
    unsigned char *buffers;
    struct sockaddr_storage *peers;
    struct iovec *receive_vectors;
    struct mmsghdr *received;
    struct iovec *reply_vectors;
    struct mmsghdr *replies;
    unsigned queued;
};

anydns_datagram_batch *anydns_batch_create(unsigned count, size_t capacity) {
    anydns_datagram_batch *batch = calloc(1, sizeof *batch);
    if (batch == NULL) return NULL;
    batch->count = count;
    batch->buffers = malloc((size_t)count * capacity);
    batch->peers = calloc(count, sizeof *batch->peers);
    batch->receive_vectors = calloc(count, sizeof *batch->receive_vectors);
    batch->received = calloc(count, sizeof *batch->received);
    batch->reply_vectors = calloc(count, sizeof *batch->reply_vectors);
    batch->replies = calloc(count, sizeof *batch->replies);
    if (!batch->buffers || !batch->peers || !batch->receive_vectors || !batch->received
        || !batch->reply_vectors || !batch->replies) {
        anydns_batch_destroy(batch);
        return NULL;
    }
    for (unsigned i = 0; i < count; i++) {
        batch->receive_vectors[i].iov_base = batch->buffers + (size_t)i * capacity;
        batch->receive_vectors[i].iov_len = capacity;
        batch->received[i].msg_hdr.msg_name = &batch->peers[i];
        batch->received[i].msg_hdr.msg_iov = &batch->receive_vectors[i];
        batch->received[i].msg_hdr.msg_iovlen = 1;
    }
    return batch;
}

void anydns_batch_destroy(anydns_datagram_batch *batch) {
    if (batch == NULL) return;
    free(batch->buffers);
    free(batch->peers);
    free(batch->receive_vectors);
    free(batch->received);
    free(batch->reply_vectors);
    free(batch->replies);
    free(batch);
}

int anydns_batch_receive(anydns_datagram_batch *batch, int fd) {
    batch->queued = 0;
    for (unsigned i = 0; i < batch->count; i++) {
        batch->received[i].msg_hdr.msg_namelen = sizeof batch->peers[i];
        batch->received[i].msg_hdr.msg_flags = 0;
    }
    int received;
    do {
        received = recvmmsg(fd, batch->received, batch->count, MSG_DONTWAIT, NULL);
    } while (received < 0 && errno == EINTR);
    if (received < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    return received;
}

unsigned char *anydns_batch_datagram(anydns_datagram_batch *batch, unsigned index, size_t *length) {
    const struct msghdr *header = &batch->received[index].msg_hdr;
    *length = batch->received[index].msg_len;
    if (header->msg_flags & MSG_TRUNC) return NULL;
    return header->msg_iov[0].iov_base;
}

void anydns_batch_queue_reply(anydns_datagram_batch *batch, unsigned index, size_t length) {
    unsigned slot = batch->queued++;
    batch->reply_vectors[slot].iov_base = batch->receive_vectors[index].iov_base;
    batch->reply_vectors[slot].iov_len = length;
    struct msghdr *header = &batch->replies[slot].msg_hdr;
    header->msg_name = &batch->peers[index];
    header->msg_namelen = batch->received[index].msg_hdr.msg_namelen;
    header->msg_iov = &batch->reply_vectors[slot];
    header->msg_iovlen = 1;
}

int anydns_batch_send(anydns_datagram_batch *batch, int fd) {
    unsigned next = 0, sent = 0;
    while (next < batch->queued) {
        int result = sendmmsg(fd, batch->replies + next, batch->queued - next, MSG_DONTWAIT);
        if (result > 0) {
            next += (unsigned)result;
            sent += (unsigned)result;
        } else if (result < 0 && errno == EINTR) {
            continue;
        } else {
            next += 1;  // sendmmsg stops at the first failing reply: skip it, send the rest
        }
    }
    batch->queued = 0;
    return (int)sent;
}

const void *anydns_batch_peer(const anydns_datagram_batch *batch, unsigned index) {
    return &batch->peers[index];
}
