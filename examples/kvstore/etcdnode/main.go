// Command etcdnode runs one etcd server (v3.6, through its embed package,
// default settings) for kvstore's benchmark, which compares the two on the
// same machine. It is a module of its own so that kvstore does not depend
// on etcd.
//
//	etcdnode --name n1 --dir DIR --client 127.0.0.1:2379 --peer 127.0.0.1:2380 \
//	    --cluster n1=http://127.0.0.1:2380,n2=...
package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"go.etcd.io/etcd/server/v3/embed"
)

func main() {
	name := flag.String("name", "", "member name")
	dir := flag.String("dir", "", "data directory")
	client := flag.String("client", "", "client address host:port")
	peer := flag.String("peer", "", "peer address host:port")
	cluster := flag.String("cluster", "", "initial cluster: name=http://host:port,...")
	flag.Parse()
	if err := run(*name, *dir, *client, *peer, *cluster); err != nil {
		fmt.Fprintln(os.Stderr, "etcdnode:", err)
		os.Exit(1)
	}
}

func run(name, dir, client, peer, cluster string) error {
	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir = name, dir
	cu := url.URL{Scheme: "http", Host: client}
	pu := url.URL{Scheme: "http", Host: peer}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{cu}, []url.URL{cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{pu}, []url.URL{pu}
	cfg.InitialCluster = cluster
	cfg.ClusterState = embed.ClusterStateFlagNew
	cfg.LogLevel = "error"
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return err
	}
	defer e.Close()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		return err
	}
	fmt.Fprintf(os.Stderr, "etcd %s ready on %s\n", name, client)
	select {
	case <-sig:
		return nil
	case err := <-e.Err():
		return err
	}
}
