package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// cpuLimit caps a process's CPU at cores (0.25: a quarter of one core)
// with a Linux cgroup of its own, standing for a small machine per node:
// on one machine, nodes that share the cores cannot show a cluster
// gaining capacity as it grows, nodes with a fixed share each can. It
// returns a function that removes the cgroup once the process has exited.
// It needs root and the cgroup v1 cpu controller or cgroup v2.
func cpuLimit(pid int, cores float64) (remove func(), err error) {
	const period = 100000 // µs
	quota := int(cores * period)
	name := fmt.Sprintf("kvstore-bench-%d", pid)
	if _, err := os.Stat("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"); err == nil {
		dir := filepath.Join("/sys/fs/cgroup/cpu", name)
		return cgroupJoin(dir, pid, map[string]string{
			"cpu.cfs_period_us": strconv.Itoa(period),
			"cpu.cfs_quota_us":  strconv.Itoa(quota),
		})
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		dir := filepath.Join("/sys/fs/cgroup", name)
		return cgroupJoin(dir, pid, map[string]string{"cpu.max": fmt.Sprintf("%d %d", quota, period)})
	}
	return nil, errors.New("no cgroup cpu controller at /sys/fs/cgroup (cgroup v1 cpu or v2)")
}

// cgroupJoin creates the cgroup dir, writes its settings and moves pid
// into it.
func cgroupJoin(dir string, pid int, settings map[string]string) (func(), error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating cgroup: %w", err)
	}
	remove := func() { _ = os.Remove(dir) }
	for file, v := range settings {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(v), 0o644); err != nil {
			remove()
			return nil, fmt.Errorf("cgroup %s: %w", file, err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		remove()
		return nil, fmt.Errorf("moving node into its cgroup: %w", err)
	}
	return remove, nil
}
