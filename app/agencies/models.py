from datetime import datetime

from sqlalchemy import String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, CreatedAt


class Agency(CreatedAt, Base):
    __tablename__ = "agency"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
