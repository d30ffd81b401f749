-- 008: remembers which watch folders are mount points of their own.

-- A folder whose filesystem is unmounted does not vanish: its mount point stays, an empty folder
-- on the parent's filesystem, and would look like a folder that was emptied. So the watcher
-- records the folder's device id (st_dev) whenever it sees the folder online on a device other
-- than its parent's; once the folder is back on its parent's device it is reported offline
-- ("unmounted") instead of being watched as an empty folder. NULL: last seen on its parent's
-- device (an ordinary folder). Kept in the database so a coordinator started while the mount is
-- missing still knows. Removing and adding the folder again forgets it.
ALTER TABLE watch_folders ADD COLUMN mount_dev INTEGER;
