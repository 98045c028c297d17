# Installs Tessera: the binaries (the desktop app too: it needs
# libgtk-4-dev and libadwaita-1-dev to build), the plugins, the systemd user
# units, the D-Bus service files, the desktop files, the app's icon and
# metainfo, and the clients' shell completions
# (bash, zsh, fish) and man pages (README.md, "Install").
#
#   make install                       # as root: under PREFIX=/usr/local
#   make install PREFIX=/usr DESTDIR=/tmp/pkg   # for a package
#   make install-user                  # no root: ~/.local and the user's units
#   make uninstall / make uninstall-user
#
# CARGO_BUILD=0 installs what target/$(PROFILE) already holds (tests do).

PREFIX ?= /usr/local
DESTDIR ?=
CARGO ?= cargo
PROFILE ?= release
CARGO_BUILD ?= 1
# CAMERA=1 builds the camera scanner plugin with a camera (nokhwa; needs
# libclang); without it the plugin loads and says how to get one.
CAMERA ?= 0
CARGO_FEATURES = $(if $(filter 1,$(CAMERA)),--features tessera-scanner-camera/camera)

BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
# tesserad reads plugins from this fixed folder (docs/plugins.md).
PLUGINDIR ?= /usr/lib/tessera/plugins
SYSTEMD_USER_UNITDIR ?= $(PREFIX)/lib/systemd/user
DBUS_SERVICEDIR ?= $(DATADIR)/dbus-1/services
DBUS_INTERFACEDIR ?= $(DATADIR)/dbus-1/interfaces
APPLICATIONSDIR ?= $(DATADIR)/applications
SEARCH_PROVIDERDIR ?= $(DATADIR)/gnome-shell/search-providers
KRUNNERDIR ?= $(DATADIR)/krunner/dbusplugins
METAINFODIR ?= $(DATADIR)/metainfo
ICONDIR ?= $(DATADIR)/icons/hicolor/scalable/apps
DOCDIR ?= $(DATADIR)/doc/tessera
MANDIR ?= $(DATADIR)/man
BASH_COMPLETIONDIR ?= $(DATADIR)/bash-completion/completions
ZSH_COMPLETIONDIR ?= $(DATADIR)/zsh/site-functions
FISH_COMPLETIONDIR ?= $(DATADIR)/fish/vendor_completions.d
DOCS = README.md ARCHITECTURE.md docs/admin.md docs/api.md docs/dbus.md docs/plugins.md docs/protocol.md docs/security.md

TARGET_DIR ?= target/$(PROFILE)
BINARIES = tesserad tessera tessera-issuer tessera-app
# The clients whose completions and man page are generated from their own
# clap definitions (`tessera completions SHELL`, `tessera man`).
CLIENTS = $(filter tessera tessera-issuer,$(BINARIES))
PLUGINS = tessera_scanner_image tessera_scanner_colour tessera_scanner_screen tessera_scanner_camera tessera_biometric_fprintd

# The per-user mode: everything under ~/.local, units where systemd --user
# and the session bus look for the user's own.
USER_PREFIX = $(HOME)/.local
USER_FLAGS = PREFIX=$(USER_PREFIX) DESTDIR= \
	PLUGINDIR=$(HOME)/.local/lib/tessera/plugins \
	SYSTEMD_USER_UNITDIR=$(HOME)/.local/share/systemd/user

INSTALL ?= install

.PHONY: all build install install-user uninstall uninstall-user pot

all: build

build:
ifneq ($(CARGO_BUILD),0)
	$(CARGO) build --locked --profile $(PROFILE) --workspace $(CARGO_FEATURES)
endif

install: build
	$(INSTALL) -d -m 0755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(PLUGINDIR) \
		$(DESTDIR)$(SYSTEMD_USER_UNITDIR) $(DESTDIR)$(DBUS_SERVICEDIR) \
		$(DESTDIR)$(APPLICATIONSDIR) $(DESTDIR)$(SEARCH_PROVIDERDIR) \
		$(DESTDIR)$(KRUNNERDIR) $(DESTDIR)$(DBUS_INTERFACEDIR) $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(METAINFODIR) $(DESTDIR)$(ICONDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASH_COMPLETIONDIR) \
		$(DESTDIR)$(ZSH_COMPLETIONDIR) $(DESTDIR)$(FISH_COMPLETIONDIR)
	for b in $(BINARIES); do \
		$(INSTALL) -m 0755 $(TARGET_DIR)/$$b $(DESTDIR)$(BINDIR)/$$b || exit 1; \
	done
	for b in $(CLIENTS); do \
		$(TARGET_DIR)/$$b completions bash > $(DESTDIR)$(BASH_COMPLETIONDIR)/$$b && \
		$(TARGET_DIR)/$$b completions zsh > $(DESTDIR)$(ZSH_COMPLETIONDIR)/_$$b && \
		$(TARGET_DIR)/$$b completions fish > $(DESTDIR)$(FISH_COMPLETIONDIR)/$$b.fish && \
		$(TARGET_DIR)/$$b man > $(DESTDIR)$(MANDIR)/man1/$$b.1 && \
		chmod 0644 $(DESTDIR)$(BASH_COMPLETIONDIR)/$$b $(DESTDIR)$(ZSH_COMPLETIONDIR)/_$$b \
			$(DESTDIR)$(FISH_COMPLETIONDIR)/$$b.fish $(DESTDIR)$(MANDIR)/man1/$$b.1 || exit 1; \
	done
	for p in $(PLUGINS); do \
		if [ -f $(TARGET_DIR)/lib$$p.so ]; then \
			$(INSTALL) -m 0644 $(TARGET_DIR)/lib$$p.so $(DESTDIR)$(PLUGINDIR)/lib$$p.so || exit 1; \
		fi; \
	done
	sed 's|/usr/local/bin/|$(BINDIR)/|g; s|/usr/local/share/doc/tessera/|$(DOCDIR)/|g' systemd/tesserad.service > $(DESTDIR)$(SYSTEMD_USER_UNITDIR)/tesserad.service
	sed 's|/usr/local/share/doc/tessera/|$(DOCDIR)/|g' systemd/tesserad.socket > $(DESTDIR)$(SYSTEMD_USER_UNITDIR)/tesserad.socket
	$(INSTALL) -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/
	sed 's|/usr/local/bin/|$(BINDIR)/|g' systemd/org.tessera.Authenticator1.service > $(DESTDIR)$(DBUS_SERVICEDIR)/org.tessera.Authenticator1.service
	sed 's|/usr/local/bin/|$(BINDIR)/|g' clients/gtk/data/org.tessera.Authenticator.desktop > $(DESTDIR)$(APPLICATIONSDIR)/org.tessera.Authenticator.desktop
	sed 's|/usr/local/bin/|$(BINDIR)/|g' systemd/org.tessera.Authenticator.OpenLink.desktop > $(DESTDIR)$(APPLICATIONSDIR)/org.tessera.Authenticator.OpenLink.desktop
	sed 's|/usr/local/bin/|$(BINDIR)/|g' clients/gtk/data/org.tessera.Authenticator.service > $(DESTDIR)$(DBUS_SERVICEDIR)/org.tessera.Authenticator.service
	$(INSTALL) -m 0644 clients/gtk/data/org.tessera.Authenticator.metainfo.xml $(DESTDIR)$(METAINFODIR)/org.tessera.Authenticator.metainfo.xml
	$(INSTALL) -m 0644 clients/gtk/data/icons/org.tessera.Authenticator.svg $(DESTDIR)$(ICONDIR)/org.tessera.Authenticator.svg
	$(INSTALL) -m 0644 systemd/org.tessera.Authenticator.search-provider.ini $(DESTDIR)$(SEARCH_PROVIDERDIR)/org.tessera.Authenticator.search-provider.ini
	$(INSTALL) -m 0644 systemd/org.tessera.Authenticator.krunner.desktop $(DESTDIR)$(KRUNNERDIR)/org.tessera.Authenticator.krunner.desktop
	$(INSTALL) -m 0644 daemon/dbus/org.tessera.Authenticator1.xml $(DESTDIR)$(DBUS_INTERFACEDIR)/org.tessera.Authenticator1.xml
	chmod 0644 $(DESTDIR)$(SYSTEMD_USER_UNITDIR)/tesserad.service \
		$(DESTDIR)$(SYSTEMD_USER_UNITDIR)/tesserad.socket \
		$(DESTDIR)$(DBUS_SERVICEDIR)/org.tessera.Authenticator1.service \
		$(DESTDIR)$(DBUS_SERVICEDIR)/org.tessera.Authenticator.service \
		$(DESTDIR)$(APPLICATIONSDIR)/org.tessera.Authenticator.desktop \
		$(DESTDIR)$(APPLICATIONSDIR)/org.tessera.Authenticator.OpenLink.desktop

install-user:
	$(MAKE) install $(USER_FLAGS)
	@if [ -z "$(DESTDIR)" ] && command -v systemctl >/dev/null 2>&1; then \
		systemctl --user daemon-reload || true; \
		echo "make: enable with: systemctl --user enable --now tesserad.socket"; \
	fi

uninstall:
	for b in $(BINARIES); do rm -f $(DESTDIR)$(BINDIR)/$$b; done
	for b in $(CLIENTS); do \
		rm -f $(DESTDIR)$(BASH_COMPLETIONDIR)/$$b $(DESTDIR)$(ZSH_COMPLETIONDIR)/_$$b \
			$(DESTDIR)$(FISH_COMPLETIONDIR)/$$b.fish $(DESTDIR)$(MANDIR)/man1/$$b.1; \
	done
	for p in $(PLUGINS); do rm -f $(DESTDIR)$(PLUGINDIR)/lib$$p.so; done
	rm -f $(DESTDIR)$(SYSTEMD_USER_UNITDIR)/tesserad.service \
		$(DESTDIR)$(SYSTEMD_USER_UNITDIR)/tesserad.socket \
		$(DESTDIR)$(DBUS_SERVICEDIR)/org.tessera.Authenticator1.service \
		$(DESTDIR)$(APPLICATIONSDIR)/org.tessera.Authenticator.desktop \
		$(DESTDIR)$(APPLICATIONSDIR)/org.tessera.Authenticator.OpenLink.desktop \
		$(DESTDIR)$(DBUS_SERVICEDIR)/org.tessera.Authenticator.service \
		$(DESTDIR)$(METAINFODIR)/org.tessera.Authenticator.metainfo.xml \
		$(DESTDIR)$(ICONDIR)/org.tessera.Authenticator.svg \
		$(DESTDIR)$(SEARCH_PROVIDERDIR)/org.tessera.Authenticator.search-provider.ini \
		$(DESTDIR)$(KRUNNERDIR)/org.tessera.Authenticator.krunner.desktop \
		$(DESTDIR)$(DBUS_INTERFACEDIR)/org.tessera.Authenticator1.xml
	rm -rf $(DESTDIR)$(DOCDIR)

uninstall-user:
	$(MAKE) uninstall $(USER_FLAGS)

# The translation template of the desktop app: the strings of its Rust
# sources (tr, tr_f, ngettext_f) and of its .ui files (po/POTFILES lists
# both; xgettext is in Debian's gettext package).
pot:
	xgettext --from-code=UTF-8 --language=C --keyword=tr --keyword=tr_f \
		--keyword=ngettext_f:1,2 --package-name=tessera \
		--output=clients/gtk/po/tessera.pot $$(grep '\.rs$$' clients/gtk/po/POTFILES)
	xgettext --from-code=UTF-8 --language=Glade --join-existing \
		--output=clients/gtk/po/tessera.pot $$(grep '\.ui$$' clients/gtk/po/POTFILES)
