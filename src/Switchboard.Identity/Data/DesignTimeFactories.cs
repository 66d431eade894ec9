using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Switchboard.Identity.Data;

// For `dotnet ef migrations add` only: one context per provider, each with its own migrations.
//   dotnet ef migrations add <Name> -p src/Switchboard.Identity -s src/Switchboard.Identity -c SqliteIdentityDb -o Data/Migrations/Sqlite
//   dotnet ef migrations add <Name> -p src/Switchboard.Identity -s src/Switchboard.Identity -c PostgresIdentityDb -o Data/Migrations/Postgres

internal sealed class SqliteIdentityDbFactory : IDesignTimeDbContextFactory<SqliteIdentityDb>
{
    public SqliteIdentityDb CreateDbContext(string[] args)
        => new(new DbContextOptionsBuilder<SqliteIdentityDb>().UseSqlite("Data Source=design-time.db").UseOpenIddict().Options);
}

internal sealed class PostgresIdentityDbFactory : IDesignTimeDbContextFactory<PostgresIdentityDb>
{
    public PostgresIdentityDb CreateDbContext(string[] args)
        => new(new DbContextOptionsBuilder<PostgresIdentityDb>().UseNpgsql("Host=localhost;Database=design-time").UseOpenIddict().Options);
}
