package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Files of the data directory holding cluster maps: the cluster's first
// map (the base the meta group's state starts from, on the nodes that
// started the cluster) and the latest map the node knows (for routing after
// a restart, on every node).
const (
	initialMapFile = "cluster-initial.json"
	currentMapFile = "cluster.json"
)

// loadMaps reads the node's maps, or makes the initial one at the first
// start of a node of a new cluster, and reports whether this is that first
// start.
func (n *Node) loadMaps() (firstStart bool, err error) {
	initial, err := readMap(filepath.Join(n.cfg.DataDir, initialMapFile))
	if err != nil {
		return false, err
	}
	current, err := readMap(filepath.Join(n.cfg.DataDir, currentMapFile))
	if err != nil {
		return false, err
	}
	if initial == nil && current == nil && !n.cfg.Join {
		initial = initialMap(n.cfg.Members, n.cfg.Shards)
		if err := writeMap(filepath.Join(n.cfg.DataDir, initialMapFile), initial); err != nil {
			return false, err
		}
		firstStart = true
	}
	n.initial.Store(initial)
	switch {
	case current != nil:
		n.cmap.Store(current)
	case initial != nil:
		n.cmap.Store(initial)
	default:
		// Joining: no shards until the cluster sends its map.
		n.cmap.Store(&ClusterMap{Members: n.cfg.Members})
	}
	if m := n.clusterMap(); len(m.Shards) != 0 && len(m.Shards) != n.cfg.Shards {
		return false, fmt.Errorf("kvstore: the cluster has %d shards, not %d (--shards)", len(m.Shards), n.cfg.Shards)
	}
	return firstStart, nil
}

// clusterMap returns the latest cluster map the node knows.
func (n *Node) clusterMap() *ClusterMap { return n.cmap.Load() }

// adopt makes m the node's cluster map if it is newer than the one it has:
// it is saved, and the transport learns the addresses of new members.
func (n *Node) adopt(m *ClusterMap) {
	n.mapMu.Lock()
	defer n.mapMu.Unlock()
	old := n.clusterMap()
	if m.Version <= old.Version {
		return
	}
	if err := writeMap(filepath.Join(n.cfg.DataDir, currentMapFile), m); err != nil {
		n.cfg.Logger.Error("saving the cluster map", "err", err)
	}
	n.cmap.Store(m)
	if n.tcp == nil {
		return
	}
	for id, mem := range m.Members {
		if id != n.cfg.ID && old.Members[id].Raft != mem.Raft {
			if err := n.tcp.SetPeer(id, mem.Raft); err != nil {
				n.cfg.Logger.Error("adding a peer", "peer", id, "err", err)
			}
		}
	}
	for id := range old.Members {
		if _, ok := m.Members[id]; !ok && id != n.cfg.ID {
			n.tcp.RemovePeer(id)
		}
	}
}

func readMap(path string) (*ClusterMap, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m ClusterMap
	if err := json.Unmarshal(b, &m); err != nil || m.Members == nil {
		return nil, fmt.Errorf("kvstore: %s is not a cluster map (%v)", path, err)
	}
	return &m, nil
}

// writeMap writes m to path atomically (temporary file, fsync, rename).
func writeMap(path string, m *ClusterMap) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
