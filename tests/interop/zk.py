#!/usr/bin/python3
"""zk.py: read and write znodes for the cluster tests (python3-kazoo).

  zk.py HOST:PORT get PATH        print the data, then a line
                                  "czxid N owner N" (exit 1: no such node)
  zk.py HOST:PORT set PATH DATA   create or overwrite PATH (parents too)
  zk.py HOST:PORT exists PATH     exit 0 if PATH exists, else 1
"""
import logging
import sys

from kazoo.client import KazooClient

logging.basicConfig(level=logging.CRITICAL)


def main():
    hosts, cmd, path = sys.argv[1], sys.argv[2], sys.argv[3]
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=10)
    try:
        if cmd == "get":
            if not zk.exists(path):
                return 1
            data, st = zk.get(path)
            print(data.decode())
            print("czxid %d owner %d" % (st.czxid, st.ephemeralOwner))
        elif cmd == "set":
            data = sys.argv[4].encode()
            if zk.exists(path):
                zk.set(path, data)
            else:
                zk.create(path, data, makepath=True)
        elif cmd == "exists":
            return 0 if zk.exists(path) else 1
        else:
            return 2
        return 0
    finally:
        zk.stop()


sys.exit(main())
