using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace Switchboard.Identity.Data;

/// <summary>
/// The identity tables of the app database: ASP.NET Core Identity's users, OpenIddict's
/// applications, authorizations, scopes and tokens, the token keys, and the Data Protection keys
/// that protect sign-in cookies and antiforgery tokens (shared by every node).
/// </summary>
internal abstract class IdentityDb(DbContextOptions options)
    : IdentityDbContext<IdentityUser>(options), IDataProtectionKeyContext
{
    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();

    public DbSet<StoredKey> TokenKeys => Set<StoredKey>();

    protected override void OnModelCreating(ModelBuilder builder)
    {
        base.OnModelCreating(builder);
        builder.UseOpenIddict();
        builder.Entity<StoredKey>(key =>
        {
            key.ToTable("SwitchboardTokenKeys");
            key.HasKey(k => k.Id);
            key.Property(k => k.Id).HasMaxLength(64);
        });
    }
}

/// <summary>The identity tables in SQLite; its migrations are in <c>Data/Migrations/Sqlite</c>.</summary>
internal sealed class SqliteIdentityDb(DbContextOptions<SqliteIdentityDb> options) : IdentityDb(options);

/// <summary>The identity tables in PostgreSQL; its migrations are in <c>Data/Migrations/Postgres</c>.</summary>
internal sealed class PostgresIdentityDb(DbContextOptions<PostgresIdentityDb> options) : IdentityDb(options);
