/* getifaddrs(3) and if_nametoindex(3), which glibc answers over
 * NETLINK_ROUTE: the loopback interface's entries. */
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int main(void) {
    struct ifaddrs *all;
    if (getifaddrs(&all) != 0) {
        perror("getifaddrs");
        return 1;
    }
    for (struct ifaddrs *i = all; i; i = i->ifa_next) {
        if (strcmp(i->ifa_name, "lo") != 0)
            continue;
        char host[64] = "-", mask[64] = "-";
        int fam = i->ifa_addr ? i->ifa_addr->sa_family : -1;
        if (fam == AF_INET || fam == AF_INET6) {
            socklen_t len = fam == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
            getnameinfo(i->ifa_addr, len, host, sizeof host, NULL, 0, NI_NUMERICHOST);
            getnameinfo(i->ifa_netmask, len, mask, sizeof mask, NULL, 0, NI_NUMERICHOST);
        }
        printf("%s family %d flags %#x addr %s mask %s\n", i->ifa_name, fam, i->ifa_flags, host, mask);
    }
    freeifaddrs(all);
    printf("if_nametoindex(lo) = %u\n", if_nametoindex("lo"));
    return 0;
}
